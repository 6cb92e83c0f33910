package dev.supervisor.daemon;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.supervisor.daemon.upgrade.PreFlight;
import dev.supervisor.daemon.upgrade.State;
import dev.supervisor.daemon.upgrade.StateWriter;
import dev.supervisor.protocol.Wire;

/**
 * The supervisor's {@link ImageSwap}: checks the installation at {@code launcher}, then
 * execve(2)s it in this process with the same arguments. Exactly the fds named in the state
 * survive the exec (every other fd is FD_CLOEXEC by then); the state itself goes in a memfd
 * named by SUPERVISOR_UPGRADE_STATE.
 */
public final class Reexec implements ImageSwap {
    /** How long the new installation's check may take (a cold JVM start on a busy machine takes seconds). */
    static final Duration CHECK_TIMEOUT = Duration.ofSeconds(60);

    private final String launcher;
    private final List<String> args;
    private final Map<String, String> env;
    private final ControlServer control;
    private final NotifySocket notify;
    private final Log log;

    /**
     * @param args the arguments the supervisor was started with (run ... or demo ...)
     * @param env its environment; LISTEN_* (already taken up) are not passed on
     */
    public Reexec(String launcher, List<String> args, Map<String, String> env, ControlServer control, NotifySocket notify, Log log) {
        this.launcher = launcher;
        this.args = List.copyOf(args);
        Map<String, String> e = new LinkedHashMap<>(env);
        e.remove(Wire.LISTEN_FDS);
        e.remove(Wire.LISTEN_PID);
        e.remove(Wire.LISTEN_FDNAMES);
        e.remove(Wire.SUPERVISOR_UPGRADE_STATE);
        this.env = e;
        this.control = control;
        this.notify = notify;
        this.log = log;
    }

    @Override
    public String check() {
        PreFlight.Result r = PreFlight.run(launcher, env, CHECK_TIMEOUT);
        if (r.failure == null) {
            log.info("upgrade: " + launcher + " passed its check: version " + r.version);
        }
        return r.failure;
    }

    @Override
    public State.ControlState freezeControl() {
        State.ControlState cs = control.freeze(5_000);
        cs.notifyFd = notify.fd();
        return cs;
    }

    @Override
    public void thawControl() {
        control.thaw();
    }

    /** What the daemon handles: held back across the exec (USR2 is not: the JVM may use it itself). */
    static final int[] HELD = {Posix.SIGHUP, Posix.SIGINT, Posix.SIGTERM};

    @Override
    public void exec(State s) {
        List<Integer> keep = kept(s);
        Posix.HeldSignals held = Posix.holdSignals(HELD);
        s.heldSignals = java.util.Arrays.stream(HELD).boxed().toList();
        int memfd;
        try {
            memfd = StateWriter.toMemfd(s);
        } catch (RuntimeException e) {
            held.restore();
            throw e;
        }
        try {
            closeOnExecAll();
            for (int fd : keep) {
                Posix.clearCloexec(fd);
            }
            Posix.clearCloexec(memfd);
            Map<String, String> e = new LinkedHashMap<>(env);
            e.put(Wire.SUPERVISOR_UPGRADE_STATE, Integer.toString(memfd));
            List<String> argv = new ArrayList<>();
            argv.add(launcher);
            argv.addAll(args);
            System.out.flush();
            System.err.flush();
            Posix.execve(launcher, argv, e);
        } finally {
            // Only reached when execve failed: this image carries on, with its fds and signals as they were.
            held.restore();
            for (int fd : keep) {
                try {
                    Posix.setCloexec(fd);
                } catch (NativeException ignored) {
                    // closed meanwhile (a worker's pipe at EOF)
                }
            }
            Posix.close(memfd);
        }
    }

    private static List<Integer> kept(State s) {
        List<Integer> fds = new ArrayList<>();
        s.listeners.forEach(l -> fds.add(l.fd));
        fds.add(s.control.serverFd);
        fds.add(s.control.notifyFd);
        s.control.connections.forEach(c -> fds.add(c.fd));
        for (State.GenerationState g : s.generations) {
            for (State.WorkerState w : g.workers) {
                if (w.stdoutFd >= 0) {
                    fds.add(w.stdoutFd);
                }
                if (w.stderrFd >= 0) {
                    fds.add(w.stderrFd);
                }
            }
        }
        return fds;
    }

    /** Every fd above 2 FD_CLOEXEC, so that none the JVM opened reaches the new image unnamed. */
    private static void closeOnExecAll() {
        try (DirectoryStream<Path> d = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            List<Integer> fds = new ArrayList<>();
            for (Path p : d) {
                fds.add(Integer.parseInt(p.getFileName().toString()));
            }
            for (int fd : fds) {
                if (fd > 2) {
                    Posix.libc().fcntl(fd, Posix.F_SETFD, Posix.FD_CLOEXEC); // the directory's own fd is gone by now: ignore EBADF
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc/self/fd: " + e.getMessage());
        }
    }
}
