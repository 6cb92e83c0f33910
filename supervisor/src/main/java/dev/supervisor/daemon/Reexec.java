package dev.supervisor.daemon;

import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import dev.supervisor.daemon.upgrade.PreFlight;
import dev.supervisor.daemon.upgrade.State;
import dev.supervisor.daemon.upgrade.StateFile;
import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.NativeException;
import dev.supervisor.protocol.Wire;

/**
 * The supervisor's {@link ImageSwap}: checks the installation at {@code launcher}, then execve(2)s
 * it in this process with the arguments we were started with. Exactly the fds the state names
 * survive the exec (every other one is FD_CLOEXEC by then); the state itself goes in a memfd named
 * by SUPERVISOR_UPGRADE_STATE.
 */
public final class Reexec implements ImageSwap {
    /** How long the new installation's check may take: a cold JVM start on a busy machine takes seconds. */
    static final Duration CHECK_TIMEOUT = Duration.ofSeconds(60);
    /** How long the control socket's thread may take to stop between two rounds. */
    private static final long FREEZE_MILLIS = 5_000;
    /** What the daemon handles: held across the exec (see {@link Posix#hold}), handled again by the new image. */
    private static final int[] HELD = {Libc.SIGHUP, Libc.SIGINT, Libc.SIGTERM, Libc.SIGUSR2};
    private static final List<String> NOT_PASSED = List.of(Wire.LISTEN_FDS, Wire.LISTEN_PID, Wire.LISTEN_FDNAMES, Wire.SUPERVISOR_UPGRADE_STATE,
            Wire.SUPERVISOR_UPGRADE_CHECK);

    private final String launcher;
    private final List<byte[]> args;
    private final ControlServer control;
    private final PosixSpawner spawner;
    private final Log log;

    /**
     * @param args main's arguments as we got them (run ... or demo ...), bytes as the kernel holds them
     */
    public Reexec(String launcher, List<byte[]> args, ControlServer control, PosixSpawner spawner, Log log) {
        this.launcher = launcher;
        this.args = List.copyOf(args);
        this.control = control;
        this.spawner = spawner;
        this.log = log;
    }

    /** The signals an exec holds pending for the new image, which unblocks them once it handles them. */
    public static int[] heldSignals() {
        return HELD.clone();
    }

    @Override
    public String check(byte[] sample) {
        Map<String, String> env = new LinkedHashMap<>(System.getenv());
        NOT_PASSED.forEach(env::remove);
        env.put(Wire.SUPERVISOR_UPGRADE_CHECK, "1");
        List<String> argv = new ArrayList<>();
        argv.add(launcher);
        Charset jnu = Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8")); // as the JDK encodes them again
        args.forEach(a -> argv.add(new String(a, jnu)));
        PreFlight.Result r = PreFlight.run(argv, env, sample, CHECK_TIMEOUT, spawner::helperStarted, spawner::helperEnded);
        if (r.failure() == null) {
            log.info("upgrade: " + launcher + " passed its check: version " + r.version());
        }
        return r.failure();
    }

    @Override
    public State.ControlState freezeControl() throws IOException {
        return control.freeze(FREEZE_MILLIS);
    }

    @Override
    public void thawControl() {
        control.thaw();
    }

    @Override
    public void exec(Supplier<State> state) throws IOException {
        Posix.SavedSignals saved = Posix.hold(HELD);
        List<Integer> keep = List.of();
        int memfd = -1;
        try {
            awaitSignalHandlers();
            State s = state.get();
            if (s == null) {
                return;
            }
            keep = s.fds();
            memfd = StateFile.toMemfd(s);
            List<byte[]> env = Environment.current().without(NOT_PASSED)
                    .with(Map.of(Wire.SUPERVISOR_UPGRADE_STATE, Integer.toString(memfd))).entries();
            List<byte[]> argv = new ArrayList<>();
            argv.add(launcher.getBytes(StandardCharsets.UTF_8));
            argv.addAll(args);
            OutputValve.STDOUT.flush(Duration.ofSeconds(2));
            OutputValve.STDERR.flush(Duration.ofSeconds(2));
            // Last, so that no fd another thread opens meanwhile (a /metrics scrape) reaches the new image.
            closeOnExecAll();
            for (int fd : keep) {
                Posix.clearCloexec(fd);
            }
            Posix.clearCloexec(memfd);
            Posix.execve(argv, env);
        } finally {
            // Only reached when the exec did not happen: this image carries on, with its fds and signals as they were.
            saved.restore();
            for (int fd : keep) {
                try {
                    Posix.setCloexec(fd);
                } catch (NativeException ignored) {
                    // closed meanwhile
                }
            }
            if (memfd >= 0) {
                Libc.close(memfd);
            }
        }
    }

    /**
     * The JDK runs each Java signal handler on a thread of its own ("SIGTERM handler"): one for a
     * signal that came just before we held them may not have queued its event yet. Waits for them,
     * at most a second.
     */
    private static void awaitSignalHandlers() {
        long end = System.nanoTime() + 1_000_000_000L;
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            String name = t.getName();
            if (name.startsWith("SIG") && name.endsWith(" handler") && t != Thread.currentThread()) {
                try {
                    t.join(Math.max(1, (end - System.nanoTime()) / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /** Every fd above 2 FD_CLOEXEC, so that none the JVM opened reaches the new image unnamed. */
    private static void closeOnExecAll() throws IOException {
        List<Integer> fds = new ArrayList<>();
        try (DirectoryStream<Path> d = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path p : d) {
                fds.add(Integer.parseInt(p.getFileName().toString()));
            }
        }
        for (int fd : fds) {
            if (fd > 2) {
                Libc.daemon().fcntl(fd, Libc.F_SETFD, Libc.FD_CLOEXEC); // the listing's own fd is closed by now: EBADF, ignored
            }
        }
    }
}
