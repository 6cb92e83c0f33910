package dev.supervisor.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The built distribution's {@code bin/supervisor} as a user runs it ({@code run} or {@code demo}),
 * with its control socket in a private temp directory. Reloads go over the control socket (what
 * {@code supervisor reload} sends, without starting a CLI JVM each time) or as SIGHUP; either way
 * each reload's outcome is known. The supervisor's own log is its timeline: when each generation
 * started, was ready (with the supervisor's overhead), drained and exited.
 */
final class SupervisorTarget implements Target {
    static final Pattern LISTENING = Pattern.compile("^supervisor: listening (\\S+)=tcp://127\\.0\\.0\\.1:(\\d+)");
    static final Pattern STARTING = Pattern.compile("^supervisor: starting generation (\\d+):");
    static final Pattern READY = Pattern.compile(
            "^supervisor: generation (\\d+) .*ready in (\\d+) ms \\(slowest worker (\\d+) ms, supervisor ([\\d.]+) ms\\)(?:; draining generation (\\d+))?");
    static final Pattern EXITED = Pattern.compile("^supervisor: generation (\\d+) exited");
    static final Pattern FAILED = Pattern.compile("^supervisor: (?:SIGHUP )?reload failed");

    enum ReloadVia { CONTROL, SIGHUP }

    private final String name;
    private final Path home;
    private final Path dir;
    private final String subcommand;
    private final List<String> options;
    private final List<String> command;
    private final Map<String, String> env;
    private ReloadVia via = ReloadVia.CONTROL;
    private Duration readyTimeout = Duration.ofSeconds(120);
    private Path control;
    private Proc proc;
    private final Map<String, Integer> ports = new LinkedHashMap<>();
    private int reloads;
    private int lastGeneration = 1;

    /**
     * @param subcommand "run" or "demo"
     * @param options run options besides --control
     * @param command the worker command (empty for demo)
     * @param env added to the launcher's environment (JAVA_HOME selects the JDK)
     */
    SupervisorTarget(String name, Path home, Path dir, String subcommand, List<String> options, List<String> command, Map<String, String> env) {
        this.name = name;
        this.home = home;
        this.dir = dir;
        this.subcommand = subcommand;
        this.options = options;
        this.command = command;
        this.env = env;
    }

    SupervisorTarget via(ReloadVia v) {
        this.via = v;
        return this;
    }

    SupervisorTarget readyTimeout(Duration d) {
        this.readyTimeout = d;
        return this;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String reloadMethod() {
        return via == ReloadVia.CONTROL ? "control socket reload request" : "SIGHUP";
    }

    Path control() {
        return control;
    }

    @Override
    public void start() throws IOException {
        Files.createDirectories(dir);
        Path ctlDir = dir.resolve("ctl");
        Files.createDirectories(ctlDir);
        Files.setPosixFilePermissions(ctlDir, PosixFilePermissions.fromString("rwx------"));
        control = ctlDir.resolve("s.sock");
        List<String> cmd = new ArrayList<>();
        cmd.add(home.resolve("bin/supervisor").toString());
        cmd.add(subcommand);
        cmd.addAll(options);
        cmd.add("--control");
        cmd.add(control.toString());
        if (!command.isEmpty()) {
            cmd.add("--");
            cmd.addAll(command);
        }
        proc = Proc.start(name.replaceAll("\\W+", "-"), cmd, env, dir, dir.resolve("supervisor.log"));
        proc.await(Pattern.compile("^supervisor: generation 1 .*ready in"), 0, readyTimeout);
        for (Proc.Line l : proc.matching(LISTENING)) {
            Matcher m = LISTENING.matcher(l.text());
            if (m.find()) {
                ports.put(m.group(1), Integer.parseInt(m.group(2)));
            }
        }
        if (ports.isEmpty()) {
            throw new BenchException(name + ": no 'listening' line in the supervisor's log:\n" + proc.tail(20));
        }
    }

    Map<String, Integer> ports() {
        return ports;
    }

    @Override
    public InetSocketAddress address() {
        return new InetSocketAddress("127.0.0.1", ports.values().iterator().next());
    }

    @Override
    public long pid() {
        return proc.pid();
    }

    @Override
    public Proc proc() {
        return proc;
    }

    @Override
    public Reload reload() {
        int index = reloads++;
        long t0 = Clock.nanos();
        if (via == ReloadVia.CONTROL) {
            JsonNode a;
            try {
                a = Control.request(control, "reload", readyTimeout.plusSeconds(10));
            } catch (BenchException e) {
                return new Reload(index, false, t0, Clock.nanos(), -1, List.of(), e.getMessage());
            }
            long t1 = Clock.nanos();
            boolean ok = a.path("ok").asBoolean();
            int g = a.path("generation").asInt(-1);
            if (ok) {
                lastGeneration = g;
            }
            return new Reload(index, ok, t0, t1, g, List.of(), ok ? null : a.path("error").asText());
        }
        int mark = proc.mark();
        Proc.signal(proc.pid(), Proc.Signals.HUP);
        try {
            proc.await(Pattern.compile("^supervisor: reload requested"), mark, Duration.ofSeconds(5));
        } catch (BenchException e) {
            return new Reload(index, false, t0, Clock.nanos(), -1, List.of(), "SIGHUP not taken within 5 s (is HUP ignored? SigIgn of pid "
                    + proc.pid() + ": " + Machine.read("/proc/" + proc.pid() + "/status").lines().filter(l -> l.startsWith("SigIgn")).findFirst()
                            .orElse("?") + ")");
        }
        Pattern next = Pattern.compile("^supervisor: (?:generation (" + (lastGeneration + 1) + ") .*ready in|(?:SIGHUP )?reload failed)");
        try {
            Proc.Hit m = proc.await(next, mark, readyTimeout.plusSeconds(10));
            long t1 = Clock.nanos();
            if (m.group(1) == null) {
                return new Reload(index, false, t0, t1, -1, List.of(), m.group(0));
            }
            lastGeneration++;
            return new Reload(index, true, t0, t1, lastGeneration, List.of(), null);
        } catch (BenchException e) {
            return new Reload(index, false, t0, Clock.nanos(), -1, List.of(), e.getMessage());
        }
    }

    /** {@code supervisor status --json}'s object, over the control socket. */
    JsonNode status() {
        return Control.request(control, "status", Duration.ofSeconds(10)).path("status");
    }

    /** One generation's life, from the supervisor's log (bench clock, ns; -1 = not seen). */
    record Generation(int number, long started, long ready, long draining, long exited, int readyMs, int workerMs, double overheadMs) {}

    /** Every generation the log tells of, by number. */
    Map<Integer, Generation> timeline() {
        Map<Integer, long[]> t = new TreeMap<>();
        Map<Integer, double[]> ms = new TreeMap<>();
        for (Proc.Line l : proc.matching(Pattern.compile("^supervisor: "))) {
            Matcher m;
            if ((m = STARTING.matcher(l.text())).find()) {
                slot(t, m.group(1))[0] = l.nanos();
            } else if ((m = READY.matcher(l.text())).find()) {
                int g = Integer.parseInt(m.group(1));
                slot(t, m.group(1))[1] = l.nanos();
                ms.put(g, new double[] {Double.parseDouble(m.group(2)), Double.parseDouble(m.group(3)), Double.parseDouble(m.group(4))});
                if (m.group(5) != null) {
                    slot(t, m.group(5))[2] = l.nanos();
                }
            } else if ((m = EXITED.matcher(l.text())).find()) {
                slot(t, m.group(1))[3] = l.nanos();
            }
        }
        Map<Integer, Generation> out = new TreeMap<>();
        for (Map.Entry<Integer, long[]> e : t.entrySet()) {
            long[] v = e.getValue();
            double[] d = ms.getOrDefault(e.getKey(), new double[] {-1, -1, -1});
            out.put(e.getKey(), new Generation(e.getKey(), v[0], v[1], v[2], v[3], (int) d[0], (int) d[1], d[2]));
        }
        return out;
    }

    private static long[] slot(Map<Integer, long[]> t, String g) {
        return t.computeIfAbsent(Integer.parseInt(g), k -> new long[] {-1, -1, -1, -1});
    }

    @Override
    public void close() {
        if (proc != null) {
            proc.stop(Duration.ofSeconds(40));
        }
    }

    /** Graceful stop (TERM): returns the exit code. */
    int stop() {
        return proc.stop(Duration.ofSeconds(40));
    }
}
