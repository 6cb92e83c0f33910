package dev.supervisor.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.NativeException;
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

    private final OutputPump pump;
    private final ExitWatch exits;
    private final NotifySocket notify;
    /** Runs before COMMAND in the same process (setpriv for --user); may be empty. */
    private final List<String> wrapper;

    /** Workers not reaped yet, for the {@link OrphanReaper} to leave alone. */
    private final Set<Integer> unreaped = ConcurrentHashMap.newKeySet();
    /** Children the JDK started for us (an upgrade's check) and reaps itself: no worker's, and no stray. */
    private final Set<Integer> helpers = ConcurrentHashMap.newKeySet();

    /** Whether this process may raise a worker's priority back to normal (see {@link Priority#forPrivilege}). */
    private final boolean mayRaise = Priority.mayRaise();

    private final ProcessTree trees;

    /**
     * @param adopted the pids of workers a previous image handed over, before they are adopted:
     *     no orphan reaper may take them first
     */
    public PosixSpawner(List<String> wrapper, NotifySocket notify, Collection<Integer> adopted, Log log) throws NativeException {
        unreaped.addAll(adopted);
        this.pump = OutputPump.start();
        this.exits = ExitWatch.start(log);
        this.wrapper = List.copyOf(wrapper);
        this.notify = notify;
        this.trees = new ProcessTree(log, helpers::contains);
        Posix.becomeSubreaper();
        OrphanReaper.startIfInit(pid -> unreaped.contains(pid) || helpers.contains(pid));
    }

    @Override
    public void refresh() {
        trees.refresh();
    }

    @Override
    public int killStrays() {
        return trees.killStrays();
    }

    /**
     * @throws SpawnException when a pipe, a dup, the worker's notify socket or the spawn fails
     *     (EMFILE, ENFILE, EAGAIN, ENOMEM, a missing program): nothing of the attempt is left open
     */
    @Override
    public Process spawn(Spec spec, Runnable onExit, NotifySocket.Receiver onNotify) {
        int n = spec.listeners.size();
        int[] fds = new int[Wire.LISTEN_FDS_START + n];
        List<Integer> parentCopies = new ArrayList<>();
        int[] out = null;
        int[] err = null;
        NotifySocket.Endpoint notifyEnd = null;
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
            notifyEnd = notify.add(onNotify);
            List<byte[]> env = spec.env.with(Map.of(Wire.NOTIFY_SOCKET, notifyEnd.path())).entries();
            List<byte[]> argv = new ArrayList<>();
            for (String a : List.of(shell(env), "-c", SHIM)) {
                argv.add(a.getBytes(StandardCharsets.UTF_8));
            }
            for (String a : wrapper) {
                argv.add(a.getBytes(StandardCharsets.UTF_8));
            }
            argv.addAll(spec.argv);
            Priority priority = spec.starting.forPrivilege(mayRaise);
            int pid = Posix.spawn(argv, env, fds);
            priority.lower(pid);
            unreaped.add(pid);
            ProcessTree.Member tree = trees.track(pid, spec.generation, spec.slot);
            String prefix = "[" + spec.generation + "." + spec.slot + " " + pid + "] ";
            OutputPump.Stream stdout = new OutputPump.Stream(out[0], prefix, OutputValve.STDOUT, null);
            OutputPump.Stream stderr = new OutputPump.Stream(err[0], prefix, OutputValve.STDERR, new ArrayDeque<>());
            pump.add(stdout);
            pump.add(stderr);
            out[0] = -1;
            err[0] = -1;
            exits.watch(pid, onExit);
            PosixProcess p = new PosixProcess(pid, stdout, stderr, tree, notifyEnd, priority);
            notifyEnd = null;
            return p;
        } catch (IOException | IllegalStateException e) {
            throw new SpawnException("cannot start " + new String(spec.argv.get(0), StandardCharsets.UTF_8) + ": " + e.getMessage());
        } finally {
            if (notifyEnd != null) {
                notifyEnd.close();
            }
            for (int fd : parentCopies) {
                Libc.close(fd);
            }
            for (int[] p : new int[][] {out, err}) {
                if (p != null) {
                    if (p[0] >= 0) {
                        Libc.close(p[0]);
                    }
                    Libc.close(p[1]);
                }
            }
        }
    }

    @Override
    public Process adopt(int pid, int generation, int slot, Kept kept, Runnable onExit, NotifySocket.Receiver onNotify) {
        String prefix = "[" + generation + "." + slot + " " + pid + "] ";
        OutputPump.Stream stdout = stream(kept.stdoutFd(), prefix, OutputValve.STDOUT, null);
        OutputPump.Stream stderr = stream(kept.stderrFd(), prefix, OutputValve.STDERR, new ArrayDeque<>());
        NotifySocket.Endpoint notifyEnd = kept.notifyFd() < 0 ? null : notify.adopt(kept.notifyPath(), kept.notifyFd(), onNotify);
        ProcessTree.Member tree = trees.track(pid, generation, slot);
        tree.rootReaped = kept.reaped();
        if (!kept.reaped()) {
            unreaped.add(pid);
            exits.watch(pid, onExit); // one that exited during the exec is a zombie: its pidfd is ready at once
        }
        return new PosixProcess(pid, stdout, stderr, tree, notifyEnd, Priority.NORMAL);
    }

    /** A pipe's stream, read from now on; a stream already ended (fd -1) is one at EOF. */
    private OutputPump.Stream stream(int fd, String prefix, OutputValve sink, ArrayDeque<String> tail) {
        OutputPump.Stream s = new OutputPump.Stream(fd, prefix, sink, tail);
        if (fd < 0) {
            s.eof.complete(null);
        } else {
            pump.add(s);
        }
        return s;
    }

    /** {@code pid} is a helper of ours (see {@link #helpers}) until {@link #helperEnded}; any thread. */
    public void helperStarted(int pid) {
        helpers.add(pid);
    }

    public void helperEnded(int pid) {
        helpers.remove(pid);
    }

    @Override
    public boolean pause() {
        try {
            return pump.pause(PAUSE_MILLIS) & notify.pause(PAUSE_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** How long the output and notify threads may take to stop between two reads. */
    private static final long PAUSE_MILLIS = 2000;

    @Override
    public void resume() {
        pump.resume();
        notify.resume();
    }

    @Override
    public long notifySockets() {
        return notify.named();
    }

    @Override
    public void notifySocketsBefore(long n) {
        notify.namedBefore(n);
    }

    /**
     * The shell of the shim: /bin/sh, unless the environment has a variable whose name is not a
     * shell identifier (not ASCII, or "A-B"), which dash leaves out of the environment it execs
     * with; bash passes those through, and it is on every Debian system.
     */
    static String shell(List<byte[]> env) {
        for (byte[] e : env) {
            if (!shellName(e) && Files.isExecutable(BASH)) {
                return BASH.toString();
            }
        }
        return "/bin/sh";
    }

    private static final Path BASH = Path.of("/bin/bash");

    /** Whether the name of entry {@code e} (NAME=value) is [A-Za-z_][A-Za-z0-9_]*. */
    private static boolean shellName(byte[] e) {
        int i = 0;
        for (; i < e.length && e[i] != '='; i++) {
            byte b = e[i];
            boolean letter = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || b == '_';
            if (!letter && !(i > 0 && b >= '0' && b <= '9')) {
                return false;
            }
        }
        return i > 0 && i < e.length;
    }

    /** Where the launcher moves HotSpot's thread-suspend signal off USR2: ours, not a Java worker's. */
    static final String SR_SIGNAL = "_JAVA_SR_SIGNUM";

    /**
     * The environment of a worker: the supervisor's own, without the socket-activation variables
     * it may have inherited itself, plus {@code extra}.
     */
    static Environment workerEnvironment(Environment own, Map<String, String> extra) {
        return own.without(List.of(Wire.LISTEN_FDS, Wire.LISTEN_PID, Wire.LISTEN_FDNAMES, Wire.NOTIFY_SOCKET, Wire.SUPERVISOR_UPGRADE_STATE,
                SR_SIGNAL)).with(extra);
    }

    private final class PosixProcess implements Process {
        private final int pid;
        private final OutputPump.Stream stdout;
        private final OutputPump.Stream stderr;
        private final ProcessTree.Member tree;
        private final NotifySocket.Endpoint notifyEnd;
        private final Priority starting;

        PosixProcess(int pid, OutputPump.Stream stdout, OutputPump.Stream stderr, ProcessTree.Member tree, NotifySocket.Endpoint notifyEnd,
                Priority starting) {
            this.pid = pid;
            this.stdout = stdout;
            this.stderr = stderr;
            this.tree = tree;
            this.notifyEnd = notifyEnd;
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
            trees.signal(tree, signal);
        }

        @Override
        public void kill() {
            trees.signal(tree, Libc.SIGKILL);
        }

        @Override
        public int reap() {
            int status = Posix.reap(pid);
            unreaped.remove(pid);
            tree.rootReaped = true;
            // Its children are ours from the moment it exited: place them while we remember its tree.
            trees.refresh();
            if (notifyEnd != null) {
                notifyEnd.close();
            }
            return status;
        }

        @Override
        public Kept kept() {
            boolean open = notifyEnd != null && !notifyEnd.closing();
            return new Kept(stdout.eof.isDone() ? -1 : stdout.fd, stderr.eof.isDone() ? -1 : stderr.fd, open ? notifyEnd.fd : -1,
                    open ? notifyEnd.path() : null, tree.rootReaped);
        }

        @Override
        public boolean alive() {
            return tree.alive();
        }

        @Override
        public void stderrTail(Consumer<List<String>> then) {
            stderr.tail(then);
        }
    }
}
