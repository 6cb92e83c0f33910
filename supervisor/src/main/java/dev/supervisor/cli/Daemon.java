package dev.supervisor.cli;

import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Supplier;

import dev.supervisor.daemon.Config;
import dev.supervisor.daemon.ControlServer;
import dev.supervisor.daemon.Environment;
import dev.supervisor.daemon.IoErrors;
import dev.supervisor.daemon.Listener;
import dev.supervisor.daemon.ListenerException;
import dev.supervisor.daemon.Log;
import dev.supervisor.daemon.NotifySocket;
import dev.supervisor.daemon.OutputValve;
import dev.supervisor.daemon.Posix;
import dev.supervisor.daemon.PosixSpawner;
import dev.supervisor.daemon.ProcessWrapper;
import dev.supervisor.daemon.Reexec;
import dev.supervisor.daemon.ReloadResult;
import dev.supervisor.daemon.Supervisor;
import dev.supervisor.daemon.Sockets;
import dev.supervisor.daemon.SystemdNotifier;
import dev.supervisor.daemon.upgrade.State;
import dev.supervisor.daemon.upgrade.StateFile;
import dev.supervisor.daemon.upgrade.Version;
import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.ListenFds;
import dev.supervisor.protocol.NativeException;
import dev.supervisor.protocol.Wire;
import sun.misc.Signal;

/** {@code run} put together: config, listeners, control and notify sockets, signals, the loop. */
final class Daemon {
    /** What Java workers need to wrap an inherited fd in a JDK channel (passed via JDK_JAVA_OPTIONS). */
    static final String JAVA_WORKER_OPTIONS = "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED --enable-native-access=ALL-UNNAMED";

    private final RunOptions options;
    private final Config.Flags flags;
    /** main's arguments as the kernel holds them: what an upgrade executes the launcher with. */
    private final List<byte[]> mainArgs;
    private static final Duration EXIT_FLUSH = Duration.ofSeconds(2);
    private final Log log = Log.STDERR;

    Daemon(RunOptions options, Config.Flags flags, List<byte[]> mainArgs) {
        this.options = options;
        this.flags = flags;
        this.mainArgs = mainArgs;
    }

    /** The system property the launcher sets to its own path: what an upgrade executes. */
    static final String LAUNCHER_PROPERTY = "supervisor.launcher";

    /**
     * An upgrade's pre-flight (SUPERVISOR_UPGRADE_CHECK): with these very arguments, would this
     * installation take over the state on stdin? Loads what the take-over loads and checks the
     * state as it would; prints one answer line and exits 0 when it would, 1 when not.
     */
    private int checkTakeOver(Function<byte[], Config> configOf) {
        String failure = null;
        try {
            checkNativeBinding();
            ControlServer.checkAdoption();
            State s = StateFile.fromBytes(System.in.readNBytes(StateFile.MAX_BYTES));
            Supervisor.check(s, configOf);
            Metrics.check(configOf.apply(s.config).metrics);
            ProcessWrapper.build(ProcessWrapper.resolve(options.user));
            PosixSpawner.class.getName();
        } catch (IOException | RuntimeException | LinkageError e) {
            failure = e.getMessage() == null ? e.toString() : e.getMessage();
        }
        System.out.println(failure != null ? Message.error(failure) : Message.answer(true).put("version", Version.current()));
        return failure != null ? Wire.EXIT_FAILED : Wire.EXIT_OK;
    }

    /**
     * A call through the native binding: loading it gives a stand-in whose every call fails when
     * the native part (jffi's stub library) cannot be loaded, so only a call shows that it works.
     */
    private static void checkNativeBinding() {
        long pid;
        try {
            pid = Libc.daemon().getpid();
        } catch (LinkageError | RuntimeException e) {
            throw new IllegalStateException("the native binding (jnr-ffi) does not work: " + e, e);
        }
        if (pid != ProcessHandle.current().pid()) {
            throw new IllegalStateException("the native binding (jnr-ffi) says getpid() is " + pid + ", the JVM " + ProcessHandle.current().pid());
        }
    }

    /** The fds the previous image handed over are ours, never a worker's: close-on-exec again. */
    private static void keepFromWorkers(State s) throws NativeException {
        for (int fd : s.fds()) {
            Posix.setCloexec(fd);
        }
    }

    /** The workers of the state not reaped yet: an orphan reaper (as PID 1) must leave them to their owner. */
    private static List<Integer> adoptedPids(State s) {
        List<Integer> pids = new ArrayList<>();
        for (State.GenerationState g : s.generations) {
            for (State.WorkerState w : g.workers) {
                if (!w.reaped) {
                    pids.add(w.pid);
                }
            }
        }
        return pids;
    }

    int run() {
        try {
            return runDaemon();
        } finally {
            // What the valves still hold goes out, unless a reader that stopped reading keeps it.
            OutputValve.STDOUT.flush(EXIT_FLUSH);
            OutputValve.STDERR.flush(EXIT_FLUSH);
        }
    }

    private int runDaemon() {
        Libc.daemon(); // first, so that the worker library's code shares this binding instead of loading its own
        Function<byte[], Config> configOf = text -> text == null ? Config.load(null, flags)
                : Config.parse(text, "handed over by the previous image", flags);
        if (System.getenv(Wire.SUPERVISOR_UPGRADE_CHECK) != null) {
            return checkTakeOver(configOf);
        }
        State handedOver;
        try {
            handedOver = handedOver();
            if (handedOver != null) {
                Supervisor.check(handedOver, configOf);
                keepFromWorkers(handedOver);
            }
        } catch (IOException | RuntimeException e) {
            // The previous image is gone and nothing was taken over: its workers run on without an owner.
            // The pre-flight runs these very checks, which makes this unlikely.
            log.info("cannot take over from the previous image: " + e.getMessage());
            return Wire.EXIT_SOFTWARE;
        }
        Config config;
        List<String> wrapper;
        ProcessWrapper.User user;
        try {
            if (handedOver != null) {
                config = configOf.apply(handedOver.config);
            } else {
                config = Config.load(options.config, flags);
                checkCommand(config.argv().get(0));
            }
            user = ProcessWrapper.resolve(options.user);
            wrapper = ProcessWrapper.build(user);
        } catch (IllegalArgumentException e) {
            log.info(e.getMessage());
            return Wire.EXIT_USAGE;
        }
        Path controlPath = ControlPath.resolve(options.control, System.getenv());
        if (controlPath.toString().getBytes().length >= Wire.SUN_PATH_MAX) {
            log.info("control socket path " + controlPath + " is longer than " + (Wire.SUN_PATH_MAX - 1) + " bytes");
            return Wire.EXIT_USAGE;
        }
        Map<String, String> workerEnv = new LinkedHashMap<>();
        workerEnv.put(Wire.SUPERVISOR_SOCKET, controlPath.toString());
        workerEnv.put(Wire.JDK_JAVA_OPTIONS, JAVA_WORKER_OPTIONS);

        Map<String, Integer> inherited = handedOver != null ? new LinkedHashMap<>() : inheritedListeners();
        // Only a --config file can change between reloads; flags alone give the same Config, so it
        // is not parsed again (that took ~0.3 ms of a reload's CPU).
        Config fromFlags = config;
        Supplier<Config> configSource = options.config == null ? () -> fromFlags : () -> {
            Config next = Config.load(options.config, flags);
            if (!Objects.equals(next.metrics, fromFlags.metrics)) {
                log.info("the new metrics address " + next.metrics + " takes effect at the next start; /metrics stays on " + fromFlags.metrics);
            }
            return next;
        };
        // Each worker's own NOTIFY_SOCKET, beside the control socket: notify-PID-N.sock.
        NotifySocket notify;
        try {
            notify = NotifySocket.open(controlPath.toAbsolutePath().getParent(), "notify-" + ProcessHandle.current().pid(), user, log);
        } catch (NativeException e) {
            log.info("cannot start: " + e.getMessage());
            return Wire.EXIT_UNAVAILABLE;
        }
        PosixSpawner spawner;
        try {
            spawner = new PosixSpawner(wrapper, notify, handedOver == null ? List.of() : adoptedPids(handedOver), log);
        } catch (NativeException e) {
            log.info("cannot start: " + e.getMessage());
            notify.close();
            return Wire.EXIT_UNAVAILABLE;
        }
        Supervisor supervisor = new Supervisor(spawner, (name, address) -> {
            Integer fd = inherited.remove(name);
            return fd == null ? Sockets.bind(name, address) : Sockets.inherited(name, address, fd);
        }, configSource, Environment.current(), workerEnv, log);
        SystemdNotifier manager = null;
        try {
            manager = SystemdNotifier.of(System.getenv(Wire.NOTIFY_SOCKET));
        } catch (NativeException | IllegalArgumentException e) {
            log.info("cannot notify the service manager at NOTIFY_SOCKET: " + e.getMessage());
        }
        if (manager != null) {
            supervisor.reportTo(manager::send);
        }
        if (handedOver != null) {
            // The take-over is the loop's first event, before any signal's.
            supervisor.takeOver(handedOver);
            handleSignals(supervisor);
            return resume(handedOver, supervisor, notify, spawner, controlPath, user, config, configOf);
        }
        List<Listener> bound;
        try {
            bound = supervisor.bind(config);
        } catch (ListenerException e) {
            log.info(e.getMessage());
            notify.close();
            return e.unavailable() ? Wire.EXIT_UNAVAILABLE : Wire.EXIT_USAGE;
        }
        for (Listener l : bound) {
            log.info("listening " + l.name() + "=" + l.bound() + (l.inherited() ? " (inherited)" : ""));
        }
        Metrics metrics;
        try {
            metrics = Metrics.bind(config.metrics);
        } catch (IOException e) {
            System.err.println("supervisor: cannot serve --metrics " + config.metrics + ": " + e.getMessage());
            bound.forEach(Listener::close);
            return Wire.EXIT_UNAVAILABLE;
        } catch (IllegalArgumentException e) {
            System.err.println("supervisor: " + e.getMessage());
            bound.forEach(Listener::close);
            return Wire.EXIT_USAGE;
        }
        ControlServer control;
        try {
            control = ControlServer.open(controlPath, user);
        } catch (IOException | RuntimeException e) {
            System.err.println("supervisor: " + (e instanceof FileSystemException
                    ? "cannot set up the control socket at " + controlPath + ": " + ((FileSystemException) e).getFile() + ": "
                            + IoErrors.describe((IOException) e)
                    : e.getMessage()));
            notify.close();
            bound.forEach(Listener::close);
            metrics.close();
            return e instanceof ListenerException && !((ListenerException) e).unavailable() ? Wire.EXIT_USAGE : Wire.EXIT_UNAVAILABLE;
        }
        try (control; notify; metrics) {
            log.info("control socket " + controlPath);
            metrics.start(supervisor, log);
            supervisor.onDrain(control::drained);
            supervisor.upgradeWith(swap(control, spawner), configOf);
            control.start(supervisor);
            notify.start();
            handleSignals(supervisor);
            writePidFile();
            return supervisor.run(bound);
        } finally {
            deletePidFile();
        }
    }

    /**
     * The state the previous image handed over (SUPERVISOR_UPGRADE_STATE names its fd); null when
     * this is a first start.
     */
    private static State handedOver() throws IOException {
        String fd = System.getenv(Wire.SUPERVISOR_UPGRADE_STATE);
        if (fd == null) {
            return null;
        }
        int n;
        try {
            n = Integer.parseInt(fd);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(Wire.SUPERVISOR_UPGRADE_STATE + " is '" + fd + "', not an fd");
        }
        return StateFile.fromFd(n);
    }

    /**
     * The rest of a start that takes over from the previous image: its control socket, sockets,
     * workers and deadlines. Nothing here may end the process while it can carry on: the workers'
     * only owner is this process now.
     */
    private int resume(State s, Supervisor supervisor, NotifySocket notify, PosixSpawner spawner, Path controlPath,
            ProcessWrapper.User user, Config config, Function<byte[], Config> configOf) {
        Metrics metrics = metricsAfterUpgrade(config);
        ControlServer control;
        try {
            control = ControlServer.adopt(controlPath, user, s.control);
        } catch (IOException e) {
            log.info("cannot take up the control socket: " + e.getMessage());
            return Wire.EXIT_SOFTWARE;
        }
        try (control; notify; metrics) {
            try {
                metrics.start(supervisor, log);
            } catch (RuntimeException | LinkageError e) {
                metrics.close(); // bound and never served, its port would take connections and answer none
                log.info("cannot serve --metrics " + config.metrics + " after the upgrade: " + e + "; going on without it");
            }
            supervisor.onDrain(control::drained);
            supervisor.upgradeWith(swap(control, spawner), configOf);
            control.start(supervisor, Supervisor.upgradedAnswer(s.version, s.upgrades));
            notify.start();
            writePidFile();
            return supervisor.run(null);
        } finally {
            deletePidFile();
        }
    }

    /** An upgraded image goes on without /metrics when it cannot bind them again: it has workers to own. */
    private Metrics metricsAfterUpgrade(Config config) {
        try {
            return Metrics.bind(config.metrics);
        } catch (IOException | RuntimeException | LinkageError e) {
            // A class the pre-flight loaded may still fail here (a jar replaced since): the workers need this process more.
            log.info("cannot serve --metrics " + config.metrics + " after the upgrade: " + (e.getMessage() != null ? e.getMessage() : e)
                    + "; going on without it");
            return Metrics.none();
        }
    }

    /** How this daemon upgrades itself: through the launcher it was started by, when it was. */
    private Reexec swap(ControlServer control, PosixSpawner spawner) {
        String launcher = System.getProperty(LAUNCHER_PROPERTY);
        return launcher == null || launcher.isEmpty() ? null : new Reexec(launcher, mainArgs, control, spawner, log);
    }

    private void handleSignals(Supervisor supervisor) {
        // An ignored disposition we inherited (nohup, a shell's background job, an upgrade's exec)
        // would make the JVM refuse these handlers. Each is set back to default just before its
        // handler is installed: a signal held across an upgrade's exec is never the default (death) for longer.
        handle(Libc.SIGHUP, "HUP", () -> supervisor.reload("SIGHUP", this::logReload));
        handle(Libc.SIGTERM, "TERM", supervisor::stop);
        handle(Libc.SIGINT, "INT", supervisor::stop);
        try {
            handle(Libc.SIGUSR2, "USR2", () -> supervisor.upgrade(failure -> { }));
        } catch (IllegalArgumentException e) {
            // HotSpot suspends threads with USR2 unless the launcher moved that elsewhere (_JAVA_SR_SIGNUM).
            log.info("SIGUSR2 is the JVM's here (" + e.getMessage() + "): this supervisor cannot upgrade itself");
        }
        // An upgrade's exec left them blocked, so that one sent while this image started waited for
        // its handler; this thread (the loop's, which lives as long as the daemon) takes them now.
        try {
            Posix.unblock(Reexec.heldSignals());
        } catch (NativeException e) {
            log.info(e.getMessage() + "; signals held across the upgrade stay pending");
        }
    }

    private void handle(int number, String name, Runnable action) {
        try {
            Posix.unignore(number);
        } catch (NativeException e) {
            log.info(e.getMessage() + "; a signal our parent had us ignore may stay ignored");
        }
        Signal.handle(new Signal(name), s -> action.run());
    }

    /**
     * Sockets our own parent passed us (a systemd .socket unit binding port 80 as root), by name;
     * a --listen of the same name uses the inherited socket instead of binding.
     */
    private Map<String, Integer> inheritedListeners() {
        Map<String, Integer> byName = new LinkedHashMap<>();
        ListenFds fds;
        try {
            fds = ListenFds.parse(System.getenv(), ProcessHandle.current().pid());
        } catch (IllegalArgumentException e) {
            log.info("ignoring the LISTEN_FDS we were given: " + e.getMessage());
            return byName;
        }
        if (fds != null) {
            for (int i = 0; i < fds.count(); i++) {
                int fd = Wire.LISTEN_FDS_START + i;
                try {
                    Posix.setCloexec(fd); // only the dups we hand out reach a worker
                } catch (NativeException e) {
                    log.info("ignoring inherited fd " + fd + ": " + e.getMessage());
                    continue;
                }
                byName.putIfAbsent(fds.names().get(i), fd);
            }
        }
        return byName;
    }

    private void logReload(ReloadResult r) {
        if (!r.ok) {
            log.info("SIGHUP reload failed: " + r.error);
        }
    }

    /**
     * A COMMAND that cannot be run is bad usage, found before anything starts. A name the JVM
     * cannot represent as a path in this locale is left to posix_spawnp to find.
     */
    static void checkCommand(byte[] bytes) {
        Charset jnu;
        try {
            jnu = Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"));
        } catch (IllegalArgumentException e) {
            return;
        }
        String cmd = new String(bytes, jnu);
        if (!Arrays.equals(cmd.getBytes(jnu), bytes)) {
            return;
        }
        if (cmd.contains("/")) {
            Path p = Path.of(cmd);
            if (!Files.isRegularFile(p) || !Files.isExecutable(p)) {
                throw new IllegalArgumentException("command '" + cmd + "' " + (Files.exists(p) ? "is not executable" : "does not exist"));
            }
            return;
        }
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        for (String dir : path.split(":")) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, cmd);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return;
            }
        }
        throw new IllegalArgumentException("command '" + cmd + "' not found on PATH (" + path + ")");
    }

    private void writePidFile() {
        if (options.pidFile != null) {
            try {
                Files.writeString(options.pidFile, ProcessHandle.current().pid() + "\n");
            } catch (IOException e) {
                log.info("cannot write pid file " + options.pidFile + ": " + IoErrors.describe(e));
            }
        }
    }

    private void deletePidFile() {
        if (options.pidFile != null) {
            try {
                Files.deleteIfExists(options.pidFile);
            } catch (IOException ignored) {
                // nothing left to do at exit
            }
        }
    }
}
