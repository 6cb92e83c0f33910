package dev.supervisor.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import dev.supervisor.daemon.Config;
import dev.supervisor.daemon.ControlServer;
import dev.supervisor.daemon.Listener;
import dev.supervisor.daemon.ListenerException;
import dev.supervisor.daemon.Log;
import dev.supervisor.daemon.NotifySocket;
import dev.supervisor.daemon.Posix;
import dev.supervisor.daemon.PosixSpawner;
import dev.supervisor.daemon.ProcessWrapper;
import dev.supervisor.daemon.Reexec;
import dev.supervisor.daemon.upgrade.State;
import dev.supervisor.daemon.upgrade.StateReader;
import dev.supervisor.daemon.ReloadResult;
import dev.supervisor.daemon.Supervisor;
import dev.supervisor.daemon.Sockets;
import dev.supervisor.daemon.SystemdNotifier;
import dev.supervisor.protocol.ListenFds;
import dev.supervisor.protocol.Wire;
import sun.misc.Signal;

/** {@code run} put together: config, listeners, control and notify sockets, signals, the loop. */
final class Daemon {
    /** What Java workers need to wrap an inherited fd in a JDK channel (passed via JDK_JAVA_OPTIONS). */
    static final String JAVA_WORKER_OPTIONS = "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED --enable-native-access=ALL-UNNAMED";

    private final RunOptions options;
    private final Config.Flags flags;
    /** The arguments this process was started with: an upgrade executes the launcher with them again. */
    private final List<String> args;
    private final Log log = Log.STDERR;

    Daemon(RunOptions options, Config.Flags flags, List<String> args) {
        this.options = options;
        this.flags = flags;
        this.args = args;
    }

    int run() {
        // Handed over by the previous image (upgrade): read first, so that a document this build
        // cannot read is refused before anything is bound, opened or started.
        State handedOver = null;
        String stateFd = System.getenv(Wire.SUPERVISOR_UPGRADE_STATE);
        if (stateFd != null) {
            try {
                handedOver = StateReader.fromFd(Integer.parseInt(stateFd));
            } catch (RuntimeException e) {
                System.err.println("supervisor: cannot take over from the previous image: " + e.getMessage());
                return Wire.EXIT_SOFTWARE;
            }
        }
        Config config;
        List<String> wrapper;
        ProcessWrapper.User user;
        try {
            config = Config.load(options.config, flags);
            checkCommand(config.command.get(0));
            user = ProcessWrapper.resolve(options.user);
            wrapper = ProcessWrapper.build(user, log);
        } catch (IllegalArgumentException e) {
            System.err.println("supervisor: " + e.getMessage());
            return Wire.EXIT_USAGE;
        }
        Path controlPath = ControlPath.resolve(options.control, System.getenv());
        if (controlPath.toString().getBytes().length >= Wire.SUN_PATH_MAX) {
            System.err.println("supervisor: control socket path " + controlPath + " is longer than " + (Wire.SUN_PATH_MAX - 1) + " bytes");
            return Wire.EXIT_USAGE;
        }
        Map<String, String> workerEnv = new LinkedHashMap<>();
        Path notifyPath = controlPath.resolveSibling("notify-" + ProcessHandle.current().pid() + ".sock");
        workerEnv.put(Wire.NOTIFY_SOCKET, notifyPath.toString());
        workerEnv.put(Wire.SUPERVISOR_SOCKET, controlPath.toString());
        workerEnv.put(Wire.JDK_JAVA_OPTIONS, JAVA_WORKER_OPTIONS);

        Map<String, Integer> inherited = handedOver == null ? inheritedListeners() : new LinkedHashMap<>();
        // Only a --config file can change between reloads; flags alone give the same Config, so it
        // is not parsed again (that took ~0.3 ms of a reload's CPU).
        Config fromFlags = config;
        Supplier<Config> configSource = options.config == null ? () -> fromFlags : () -> Config.load(options.config, flags);
        Supervisor supervisor = new Supervisor(new PosixSpawner(wrapper), (name, address) -> {
            Integer fd = inherited.remove(name);
            return fd == null ? Sockets.bind(name, address) : Sockets.inherited(name, address, fd);
        }, configSource, System.getenv(), workerEnv, log);
        SystemdNotifier manager = SystemdNotifier.of(System.getenv(Wire.NOTIFY_SOCKET));
        if (manager != null) {
            supervisor.reportTo(manager::send);
        }
        List<Listener> bound = List.of();
        if (handedOver == null) {
            try {
                bound = supervisor.bind(config);
            } catch (ListenerException e) {
                System.err.println("supervisor: " + e.getMessage());
                return e.unavailable() ? Wire.EXIT_UNAVAILABLE : Wire.EXIT_USAGE;
            }
            for (Listener l : bound) {
                log.info("listening " + l.name() + "=" + l.bound() + (l.inherited() ? " (inherited)" : ""));
            }
        }
        ControlServer control;
        NotifySocket notify;
        try {
            if (handedOver == null) {
                control = ControlServer.open(controlPath, user);
                notify = NotifySocket.open(notifyPath, user);
            } else {
                for (State.ListenerState l : handedOver.listeners) {
                    Posix.setCloexec(l.fd); // kept open for this image only
                }
                control = ControlServer.adopt(controlPath, handedOver.control, handedOver.version, user);
                notify = NotifySocket.adopt(handedOver.control.notifyFd, notifyPath);
                supervisor.resumeFrom(handedOver);
            }
        } catch (IOException | RuntimeException e) {
            System.err.println("supervisor: " + e.getMessage());
            bound.forEach(Listener::close);
            return Wire.EXIT_UNAVAILABLE;
        }
        String launcher = System.getenv(Wire.SUPERVISOR_LAUNCHER);
        if (launcher != null && !launcher.isEmpty()) {
            supervisor.upgradeWith(new Reexec(launcher, args, System.getenv(), control, notify, log));
        }
        try (control; notify) {
            log.info("control socket " + controlPath);
            supervisor.onDrain(control::drained);
            control.start(supervisor);
            notify.start(supervisor);
            // Signals the previous image held back (ignored, blocked) across the exec: handled from here on.
            int[] held = handedOver == null ? new int[0] : handedOver.heldSignals.stream().mapToInt(Integer::intValue).toArray();
            Posix.unignore(held);
            Signal.handle(new Signal("HUP"), s -> supervisor.reload(this::logReload));
            Signal.handle(new Signal("TERM"), s -> supervisor.stop());
            Signal.handle(new Signal("INT"), s -> supervisor.stop());
            Signal.handle(new Signal("USR2"), s -> supervisor.upgrade(error -> log.info("SIGUSR2 " + error)));
            Posix.unblock(held);
            writePidFile();
            return supervisor.run(handedOver == null ? bound : null);
        } finally {
            deletePidFile();
        }
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
                Posix.setCloexec(fd);
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

    /** A COMMAND that cannot be run is bad usage, found before anything starts. */
    static void checkCommand(String cmd) {
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
                log.info("cannot write pid file " + options.pidFile + ": " + e.getMessage());
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
