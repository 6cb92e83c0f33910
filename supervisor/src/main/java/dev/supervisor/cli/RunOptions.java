package dev.supervisor.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import dev.supervisor.daemon.Config;
import dev.supervisor.daemon.Signals;
import picocli.CommandLine.Option;

/** The options of {@code run}, shared with {@code demo}. */
public final class RunOptions {
    @Option(names = {"-l", "--listen"}, paramLabel = "NAME=ADDRESS",
            description = "a listener, repeatable, in fd order (3, 4, ...). ADDRESS: tcp://HOST:PORT, HOST:PORT, :PORT, "
                    + "[V6ADDR]:PORT, unix:/path or udp://HOST:PORT")
    List<String> listen = new ArrayList<>();

    @Option(names = {"-c", "--config"}, paramLabel = "FILE", description = "JSON config with the same settings; flags override it; read again on reload")
    Path config;

    @Option(names = {"-n", "--workers"}, paramLabel = "N", description = "worker processes per generation (default 1)")
    Integer workers;

    @Option(names = "--ready", paramLabel = "MODE", completionCandidates = ReadyModes.class, description = "notify | delay:DURATION (default delay:1s)")
    String ready;

    @Option(names = "--ready-timeout", paramLabel = "DUR", description = "a generation not ready by then has failed (default 60s)")
    String readyTimeout;

    @Option(names = "--drain-signal", paramLabel = "SIG", completionCandidates = SignalNames.class, description = "sent to each old worker on drain (default TERM)")
    String drainSignal;

    @Option(names = "--drain-timeout", paramLabel = "DUR", description = "then KILL (default 30s)")
    String drainTimeout;

    @Option(names = "--control", paramLabel = "PATH",
            description = "control socket (default $SUPERVISOR_CONTROL, else $XDG_RUNTIME_DIR/supervisor-UID/supervisor.sock, or under /tmp without XDG_RUNTIME_DIR)")
    Path control;

    @Option(names = "--pid-file", paramLabel = "PATH", description = "write the supervisor's pid here")
    Path pidFile;

    @Option(names = "--user", paramLabel = "USER[:GROUP]", description = "workers run as this user (the supervisor binds first, as root)")
    String user;

    @Option(names = "--stdin-listener", paramLabel = "NAME", description = "also place listener NAME on the worker's fd 0 (inetd style)")
    String stdinListener;

    /** What bash completion offers after --ready. */
    static final class ReadyModes implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return List.of("notify", "delay:1s").iterator();
        }
    }

    /** What bash completion offers after --drain-signal. */
    static final class SignalNames implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return Signals.names().stream().filter(n -> !n.equals("KILL") && !n.equals("STOP")).iterator();
        }
    }

    @Option(names = "--starting-priority", paramLabel = "PRIO",
            description = "CPU priority of a reload's generation until it is ready: nice | idle | batch | normal (default nice)")
    String startingPriority;

    @Option(names = "--starting-priority-for", paramLabel = "DUR",
            description = "the longest a reload's worker stays at that priority, then normal; at most half of --ready-timeout (default 2s)")
    String startingPriorityFor;

    @Option(names = "--metrics", paramLabel = "ADDR",
            description = "serve /metrics (Prometheus), /ready and /live over HTTP on ADDR (HOST:PORT, :PORT, [V6ADDR]:PORT)")
    String metrics;

    Config.Flags flags(List<byte[]> command) {
        Config.Flags f = new Config.Flags();
        f.listen = listen;
        f.command = command;
        f.workers = workers;
        f.ready = ready;
        f.readyTimeout = readyTimeout;
        f.drainSignal = drainSignal;
        f.drainTimeout = drainTimeout;
        f.stdinListener = stdinListener;
        f.startingPriority = startingPriority;
        f.startingPriorityFor = startingPriorityFor;
        f.metrics = metrics;
        return f;
    }
}
