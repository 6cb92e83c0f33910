package dev.supervisor.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The benchmark: supervisor's reloads under load side by side with nginx, HAProxy and gunicorn's
 * own, plus throughput, idle cost and scale, in one run on one machine. Writes
 * {@code bench/results/} (JSON, Markdown, SVG) and prints the table. {@code bench/run} at the
 * repository root builds what is needed and runs this class; {@code --quick} is the smoke test
 * that {@code BenchSmokeIT} runs in {@code mvn verify}.
 */
public final class Bench {
    /** Scenario names, in the order a full run takes them. */
    static final List<String> SCENARIOS = List.of("idle", "throughput", "overhead", "sup-lighttpd", "sup-demo", "sup-spring", "sup-gunicorn", "nginx", "haproxy", "gunicorn",
            "scale-listeners", "scale-workers", "scale-held", "scale-storm");
    static final List<String> QUICK_SCENARIOS = List.of("sup-demo", "sup-lighttpd");

    /** What to run and how much of it. */
    static final class Options {
        boolean quick;
        /** Reloads of supervisor over the LISTEN_FDS child (lighttpd): the ≥ 1,000-reload run. */
        int reloads = 1000;
        /** Reloads of supervisor over the JVM demo worker (each generation starts a JVM, ~0.35 s here). */
        int demoReloads = 1000;
        /** Reloads of supervisor over the Spring Boot example (Tomcat; each generation starts a Boot JVM, seconds). */
        int springReloads = 50;
        /** No reload run goes on reloading for longer than this; the report says how many it did. */
        Duration reloadBudget = Duration.ofMinutes(11);
        /** Reloads of nginx, HAProxy, gunicorn and supervisor + gunicorn. */
        int otherReloads = 200;
        Duration steady = Duration.ofSeconds(10);
        Duration gap = Duration.ofMillis(50);
        /** The first reloads of each run come this far apart (after the previous one was done), so that each one's window is measured on its own. */
        int spacedReloads = 15;
        Duration spacedGap = Duration.ofMillis(1500);
        Duration idle = Duration.ofSeconds(60);
        Duration wrk = Duration.ofSeconds(6);
        int wrkRounds = 5;
        int clients = 8;
        double rate = 100;
        Set<String> scenarios = new LinkedHashSet<>(SCENARIOS);
        Path out = Path.of("bench/results");
        Path home = Path.of(System.getProperty("supervisor.home", "packaging/target/supervisor"));
        Path work;
        String command = "bench/run";

        static Options quick() {
            Options o = new Options();
            o.quick = true;
            o.reloads = 3;
            o.demoReloads = 3;
            o.springReloads = 3;
            o.otherReloads = 3;
            o.steady = Duration.ofSeconds(2);
            o.spacedReloads = 1;
            o.spacedGap = Duration.ofMillis(1000);
            o.clients = 4;
            o.rate = 50;
            o.scenarios = new LinkedHashSet<>(QUICK_SCENARIOS);
            o.command = "bench/run --quick";
            return o;
        }

        static Options parse(String[] args) {
            Options o = List.of(args).contains("--quick") ? quick() : new Options();
            StringBuilder cmd = new StringBuilder("bench/run");
            for (String a0 : args) {
                cmd.append(' ').append(a0);
            }
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                switch (a) {
                    case "--quick" -> { }
                    case "--reloads" -> o.reloads = Integer.parseInt(args[++i]);
                    case "--demo-reloads" -> o.demoReloads = Integer.parseInt(args[++i]);
                    case "--spring-reloads" -> o.springReloads = Integer.parseInt(args[++i]);
                    case "--other-reloads" -> o.otherReloads = Integer.parseInt(args[++i]);
                    case "--steady" -> o.steady = Duration.ofMillis((long) (Double.parseDouble(args[++i]) * 1000));
                    case "--gap-ms" -> o.gap = Duration.ofMillis(Long.parseLong(args[++i]));
                    case "--spaced" -> o.spacedReloads = Integer.parseInt(args[++i]);
                    case "--budget-minutes" -> o.reloadBudget = Duration.ofMillis((long) (Double.parseDouble(args[++i]) * 60_000));
                    case "--spaced-gap-ms" -> o.spacedGap = Duration.ofMillis(Long.parseLong(args[++i]));
                    case "--idle" -> o.idle = Duration.ofMillis((long) (Double.parseDouble(args[++i]) * 1000));
                    case "--wrk" -> o.wrk = Duration.ofMillis((long) (Double.parseDouble(args[++i]) * 1000));
                    case "--clients" -> o.clients = Integer.parseInt(args[++i]);
                    case "--rate" -> o.rate = Double.parseDouble(args[++i]);
                    case "--only" -> o.scenarios = new LinkedHashSet<>(List.of(args[++i].split(",")));
                    case "--skip" -> o.scenarios.removeAll(List.of(args[++i].split(",")));
                    case "--out" -> o.out = Path.of(args[++i]);
                    case "--home" -> o.home = Path.of(args[++i]);
                    case "--help", "-h" -> {
                        System.out.println(usage());
                        System.exit(0);
                    }
                    default -> throw new IllegalArgumentException("unknown option " + a + "\n" + usage());
                }
            }
            for (String s : o.scenarios) {
                if (!SCENARIOS.contains(s)) {
                    throw new IllegalArgumentException("unknown scenario '" + s + "'; there are " + SCENARIOS);
                }
            }
            o.command = String.join(" ", cmd);
            o.home = o.home.toAbsolutePath().normalize();
            return o;
        }

        static String usage() {
            return String.join("\n",
                    "usage: bench/run [--quick] [--reloads N] [--demo-reloads N] [--spring-reloads N] [--other-reloads N] [--steady S] [--gap-ms MS]",
                    "                 [--spaced N] [--spaced-gap-ms MS] [--budget-minutes M]",
                    "                 [--idle S] [--wrk S] [--clients N] [--rate R] [--only A,B] [--skip A,B] [--out DIR] [--home DIR]",
                    "scenarios: " + String.join(", ", SCENARIOS));
        }
    }

    private final Options o;
    private final Report report;

    Bench(Options o) {
        this.o = o;
        this.report = new Report(o);
    }

    public static void main(String[] args) throws Exception {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("bench: " + e.getMessage());
            System.exit(64);
            return;
        }
        Report r = new Bench(o).run();
        r.write(o.out);
        System.out.println();
        System.out.println(r.markdown());
        say("results in %s", o.out.toAbsolutePath());
        System.exit(r.errors() == 0 ? 0 : 1);
    }

    /** Runs every chosen scenario; one that lacks a program is skipped with the reason, one that breaks is recorded as an error. */
    Report run() throws IOException {
        o.home = o.home.toAbsolutePath().normalize();
        if (!Files.isExecutable(o.home.resolve("bin/supervisor"))) {
            throw new BenchException("no distribution at " + o.home + ": build it with mvn -B -q package -DskipTests");
        }
        o.work = Files.createTempDirectory("supervisor-bench-");
        say("work directory (logs, configs) %s", o.work);
        report.machine(this);
        if (!Proc.ignoredSignals().isEmpty()) {
            say("note: this process ignores SIG%s (nohup or a background job); servers are started through env --default-signal=%s",
                    Proc.ignoredSignals(), Proc.ignoredSignals());
        }
        List<String> missing = new ArrayList<>();
        for (String p : Tools.PACKAGES.keySet()) {
            if (Tools.find(p).isEmpty()) {
                missing.add(p);
            }
        }
        if (!missing.isEmpty() && !o.quick) {
            say("MISSING: %s; the scenarios that need them are skipped (Debian: apt-get install -y %s)", missing, String.join(" ",
                    missing.stream().map(Tools.PACKAGES::get).toList()));
        }
        for (String s : o.scenarios) {
            long t0 = System.nanoTime();
            try {
                runScenario(s);
            } catch (Tools.Missing e) {
                say("%s: SKIPPED: %s", s, e.getMessage());
                report.skipped(s, e.getMessage());
            } catch (Exception | AssertionError e) {
                say("%s: ERROR: %s", s, e);
                e.printStackTrace(System.out);
                report.error(s, e);
            }
            say("%s: %.0f s", s, (System.nanoTime() - t0) / 1e9);
        }
        return report;
    }

    private void runScenario(String s) throws Exception {
        switch (s) {
            case "sup-lighttpd" -> report.reloadRun(s, ReloadRun.run(supervisorLighttpd(s, 2), o.reloads, o));
            case "sup-demo" -> report.reloadRun(s, ReloadRun.run(supervisorDemo(s), o.demoReloads, o));
            case "sup-spring" -> report.reloadRun(s, ReloadRun.run(supervisorSpring(s), o.springReloads, o));
            case "sup-gunicorn" -> report.reloadRun(s, ReloadRun.run(supervisorGunicorn(s), o.otherReloads, o));
            case "nginx" -> report.reloadRun(s, ReloadRun.run(MasterTarget.nginx(Tools.require("nginx"), dir(s), Tools.freePort(), 2), o.otherReloads, o));
            case "haproxy" -> report.reloadRun(s, ReloadRun.run(MasterTarget.haproxy(Tools.require("haproxy"), dir(s), Tools.freePort()), o.otherReloads,
                    o));
            case "gunicorn" -> report.reloadRun(s, ReloadRun.run(MasterTarget.gunicorn(Tools.require("gunicorn"), dir(s), appDir(), Tools.freePort(), 2),
                    o.otherReloads, o));
            case "idle" -> report.put(s, Idle.run(this));
            case "throughput" -> report.put(s, Throughput.run(this));
            case "overhead" -> report.put(s, Overhead.run(this));
            case "scale-listeners" -> report.put(s, Scale.listeners(this));
            case "scale-workers" -> report.put(s, Scale.workers(this));
            case "scale-held" -> report.put(s, Scale.held(this));
            case "scale-storm" -> report.put(s, Scale.storm(this));
            default -> throw new IllegalArgumentException(s);
        }
    }

    Options options() {
        return o;
    }

    Path dir(String name) throws IOException {
        return Files.createDirectories(o.work.resolve(name));
    }

    /** The environment of a supervisor launcher: JAVA_HOME = the JDK 17 home when there is one. */
    Map<String, String> launcherEnv(Path javaHome) {
        Map<String, String> env = new LinkedHashMap<>();
        if (javaHome != null) {
            env.put("JAVA_HOME", javaHome.toString());
        }
        return env;
    }

    Path defaultJdk() {
        return Tools.jdks().getOrDefault("17", null);
    }

    /**
     * lighttpd's config: with socket activation (under supervisor) or binding 127.0.0.1:{@code port}
     * itself; {@code genHeader} adds X-Gen = SUPERVISOR_GENERATION to every answer.
     */
    Path lighttpdConfig(String name, boolean activated, int port, boolean genHeader) throws IOException {
        Path d = dir(name);
        Path www = Files.createDirectories(d.resolve("www"));
        Files.writeString(www.resolve("index.html"), "ok\n");
        List<String> lines = new ArrayList<>(List.of(
                "server.document-root = \"" + www + "\"",
                "index-file.names = ( \"index.html\" )",
                "server.max-keep-alive-requests = 1000000",
                "server.max-keep-alive-idle = 65",
                "server.max-fds = 16384",
                "server.max-connections = 8192",
                "server.errorlog = \"/dev/stderr\""));
        if (activated) {
            lines.add("server.systemd-socket-activation = \"enable\"");
        } else {
            lines.add("server.bind = \"127.0.0.1\"");
            lines.add("server.port = " + port);
            lines.add("server.listen-backlog = 4096"); // as the supervisor's listen()
        }
        if (genHeader) {
            lines.add("server.modules += ( \"mod_setenv\" )");
            lines.add("setenv.add-response-header = ( \"X-Gen\" => env.SUPERVISOR_GENERATION )");
        }
        Path conf = d.resolve(activated ? "lighttpd-activated.conf" : "lighttpd-alone.conf");
        Files.writeString(conf, String.join("\n", lines) + "\n");
        return conf;
    }

    /** supervisor run over lighttpd ({@code workers} processes), ready after 50 ms alive, drained with INT (lighttpd's graceful stop). */
    SupervisorTarget supervisorLighttpd(String name, int workers) throws IOException {
        Path lighttpd = Tools.require("lighttpd");
        Path conf = lighttpdConfig(name, true, 0, true);
        return new SupervisorTarget("supervisor + lighttpd", o.home, dir(name), "run",
                List.of("-l", "http=127.0.0.1:0", "-n", Integer.toString(workers), "--ready", "delay:50ms", "--drain-signal", "INT", "--drain-timeout",
                        "30s"),
                List.of(lighttpd.toString(), "-D", "-f", conf.toString()), launcherEnv(defaultJdk()));
    }

    /** supervisor demo: the bundled Java demo worker, ready by notify, one worker. */
    SupervisorTarget supervisorDemo(String name) throws IOException {
        return new SupervisorTarget("supervisor + demo (JVM)", o.home, dir(name), "demo", List.of("--port", "0", "-n", "1", "--drain-timeout", "30s"),
                List.of(), launcherEnv(defaultJdk()));
    }

    /** supervisor run over the Spring Boot example on Tomcat (the starter; ready on ApplicationReadyEvent), one worker. */
    SupervisorTarget supervisorSpring(String name) throws IOException {
        Path jar = Path.of("examples/spring/tomcat/target/supervisor-example-spring-tomcat.jar").toAbsolutePath();
        if (!Files.isRegularFile(jar)) {
            throw new BenchException(jar + " is missing: build it (mvn -B -q package -DskipTests)");
        }
        return new SupervisorTarget("supervisor + Spring Boot (Tomcat)", o.home, dir(name), "run", List.of("-l", "http=127.0.0.1:0", "--ready",
                "notify", "--drain-timeout", "30s"), List.of(defaultJdk().resolve("bin/java").toString(), "-XX:TieredStopAtLevel=1",
                        "-XX:+UseSerialGC", "-jar", jar.toString()), launcherEnv(defaultJdk()));
    }

    /**
     * supervisor run over gunicorn (2 gthread workers; it takes LISTEN_FDS), with the shipped example
     * config: READY=1 once both workers loaded the app (gunicorn's own comes before it forks them).
     */
    SupervisorTarget supervisorGunicorn(String name) throws IOException {
        Path gunicorn = Tools.require("gunicorn");
        List<String> command = new ArrayList<>(MasterTarget.gunicornCommand(gunicorn, appDir(), 2, null));
        command.addAll(1, List.of("-c", o.home.resolve("share/doc/supervisor/examples/gunicorn.conf.py").toString()));
        return new SupervisorTarget("supervisor + gunicorn", o.home, dir(name), "run", List.of("-l", "http=127.0.0.1:0", "--ready", "notify",
                "--drain-timeout", "30s"), command, launcherEnv(defaultJdk()));
    }

    /** The tiny WSGI app: {"generation":G,"pid":P}, G from SUPERVISOR_GENERATION (null outside supervisor). */
    Path appDir() throws IOException {
        Path d = dir("wsgi");
        Files.writeString(d.resolve("bench_app.py"), String.join("\n",
                "import os",
                "GEN = os.environ.get('SUPERVISOR_GENERATION') or 'null'",
                "def app(environ, start_response):",
                "    body = ('{\"generation\":%s,\"pid\":%d}' % (GEN, os.getpid())).encode()",
                "    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])",
                "    return [body]",
                ""));
        return d;
    }

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss");
    static PrintStream out = System.out;

    static void say(String format, Object... args) {
        out.println("[bench " + LocalTime.now().format(TIME) + "] " + String.format(Locale.ROOT, format, args));
        out.flush();
    }

    Report report() {
        return report;
    }

    static ObjectNode object() {
        return dev.supervisor.protocol.Message.json().createObjectNode();
    }
}
