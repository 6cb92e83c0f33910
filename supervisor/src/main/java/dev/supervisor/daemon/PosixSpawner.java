package dev.supervisor.daemon;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import dev.supervisor.protocol.Wire;

/**
 * Starts real workers with posix_spawnp(3): listeners on fds 3.., LISTEN_* set, nothing else of
 * the JVM inherited (closefrom), own process group, output through the {@link OutputPump}.
 */
public final class PosixSpawner implements Spawner {
    /**
     * LISTEN_PID must be the pid that runs COMMAND, which only exists after the spawn: a shell
     * sets it to its own pid ($$) and execs COMMAND in place, arguments passed as "$@".
     */
    static final String SHIM = "LISTEN_PID=$$; export LISTEN_PID; exec \"$0\" \"$@\"";

    private final OutputPump pump = OutputPump.start();
    /** Runs before COMMAND in the same process (setpriv: parent-death signal, --user); may be empty. */
    private final List<String> wrapper;

    /** Workers not reaped yet, for the {@link OrphanReaper} to leave alone. */
    private final Set<Integer> unreaped = ConcurrentHashMap.newKeySet();

    /** Whether this process may raise a worker's priority back to normal (see {@link Priority#forPrivilege}). */
    private final boolean mayRaise = Priority.mayRaise();

    public PosixSpawner(List<String> wrapper) {
        this.wrapper = List.copyOf(wrapper);
        OrphanReaper.startIfInit(unreaped::contains);
    }

    @Override
    public Process spawn(Spec spec, Runnable onExit) {
        int n = spec.listeners.size();
        int[] fds = new int[Wire.LISTEN_FDS_START + n];
        List<Integer> parentCopies = new ArrayList<>();
        int[] out = null;
        int[] err = null;
        try {
            // Sources sit at or above every target, so no dup2 in the child clobbers another's source.
            for (int i = 0; i < n; i++) {
                int copy = Posix.dupCloexec(spec.listeners.get(i).fd(), fds.length);
                parentCopies.add(copy);
                fds[Wire.LISTEN_FDS_START + i] = copy;
            }
            fds[0] = spec.stdinListener < 0 ? -1 : fds[Wire.LISTEN_FDS_START + spec.stdinListener];
            out = Posix.pipe();
            err = Posix.pipe();
            fds[1] = out[1];
            fds[2] = err[1];
            List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", SHIM));
            argv.addAll(wrapper);
            argv.addAll(spec.command);
            Priority priority = spec.starting.forPrivilege(mayRaise);
            int pid;
            try {
                pid = Posix.spawn(argv, spec.env, fds);
            } catch (NativeException e) {
                throw new SpawnException("cannot start " + spec.command.get(0) + ": " + e.getMessage());
            }
            priority.lower(pid);
            unreaped.add(pid);
            String prefix = "[" + spec.generation + "." + spec.slot + " " + pid + "] ";
            OutputPump.Stream stderr = new OutputPump.Stream(err[0], prefix, System.err, new ArrayDeque<>());
            pump.add(new OutputPump.Stream(out[0], prefix, System.out, null));
            pump.add(stderr);
            out[0] = -1;
            err[0] = -1;
            Optional<ProcessHandle> handle = ProcessHandle.of(pid);
            if (handle.isPresent()) {
                handle.get().onExit().thenRun(onExit);
            } else {
                onExit.run();
            }
            return new PosixProcess(pid, stderr, unreaped, priority);
        } finally {
            for (int fd : parentCopies) {
                Posix.close(fd);
            }
            for (int[] p : new int[][] {out, err}) {
                if (p != null) {
                    if (p[0] >= 0) {
                        Posix.close(p[0]);
                    }
                    Posix.close(p[1]);
                }
            }
        }
    }

    /**
     * The environment of a worker: the supervisor's own, without the socket-activation variables
     * it may have inherited itself, plus {@code extra}.
     */
    static Map<String, String> workerEnvironment(Map<String, String> own, Map<String, String> extra) {
        Map<String, String> env = new LinkedHashMap<>(own);
        env.remove(Wire.LISTEN_FDS);
        env.remove(Wire.LISTEN_PID);
        env.remove(Wire.LISTEN_FDNAMES);
        env.remove(Wire.NOTIFY_SOCKET);
        env.putAll(extra);
        return env;
    }

    private static final class PosixProcess implements Process {
        private final int pid;
        private final OutputPump.Stream stderr;
        private final Set<Integer> unreaped;
        private final Priority starting;

        PosixProcess(int pid, OutputPump.Stream stderr, Set<Integer> unreaped, Priority starting) {
            this.pid = pid;
            this.stderr = stderr;
            this.unreaped = unreaped;
            this.starting = starting;
        }

        @Override
        public void raisePriority() {
            starting.raise(pid);
        }

        @Override
        public int pid() {
            return pid;
        }

        @Override
        public void signal(int signal) {
            Posix.kill(pid, signal);
        }

        @Override
        public void killGroup() {
            Posix.kill(-pid, Posix.SIGKILL);
            Posix.kill(pid, Posix.SIGKILL);
        }

        @Override
        public int reap() {
            int status = Posix.reap(pid);
            unreaped.remove(pid);
            return status;
        }

        @Override
        public List<String> stderrTail() {
            return stderr.tail();
        }
    }
}
