package dev.supervisor.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * What an idle supervisor costs, per JDK: its RSS and CPU over a quiet minute (one lighttpd
 * worker, no requests, no reloads), its start-up time, and the wall time of the CLI commands
 * {@code supervisor status} and {@code supervisor reload} (each starts a JVM). The supervisors of
 * all JDKs idle side by side in the same minute. A variant with a small initial heap shows what a
 * launcher flag would save (it is passed in JDK_JAVA_OPTIONS; the shipped launcher is unchanged).
 */
final class Idle {
    private Idle() {}

    /** JDK_JAVA_OPTIONS of the "small initial heap" variant. */
    static final String SMALL_HEAP = "-Xms8m";

    static ObjectNode run(Bench b) throws Exception {
        Bench.Options o = b.options();
        Map<String, Path> jdks = Tools.jdks();
        if (jdks.isEmpty()) {
            throw new Tools.Missing("no JDK 17 or 25 under /usr/lib/jvm (set JDK17_HOME / JDK25_HOME)");
        }
        List<String> worker = Tools.find("lighttpd").isPresent()
                ? List.of(Tools.find("lighttpd").get().toString(), "-D", "-f", b.lighttpdConfig("idle", true, 0, false).toString())
                : List.of("/bin/sleep", "1000000");
        Map<String, SupervisorTarget> sups = new LinkedHashMap<>();
        Map<String, Long> launched = new LinkedHashMap<>();
        ObjectNode n = Bench.object();
        n.put("worker", String.join(" ", worker.subList(0, 1)) + " (1 worker), no load, no reloads");
        n.put("seconds", o.idle.toMillis() / 1000.0);
        try {
            for (Map.Entry<String, Path> j : jdks.entrySet()) {
                for (boolean small : new boolean[] {false, true}) {
                    String key = "jdk" + j.getKey() + (small ? "-small-heap" : "");
                    Map<String, String> env = b.launcherEnv(j.getValue());
                    if (small) {
                        env.put("JDK_JAVA_OPTIONS", SMALL_HEAP);
                    }
                    SupervisorTarget s = new SupervisorTarget("idle " + key, o.home, b.dir("idle-" + key), "run",
                            List.of("-l", "http=127.0.0.1:0", "--ready", "delay:100ms"), worker, env);
                    sups.put(key, s);
                    launched.put(key, Clock.nanos());
                    s.start();
                }
            }
            for (Map.Entry<String, SupervisorTarget> e : sups.entrySet()) {
                Proc.Hit listening = e.getValue().proc().await(SupervisorTarget.LISTENING, 0, Duration.ofSeconds(5));
                Proc.Hit ready = e.getValue().proc().await(Pattern.compile("^supervisor: generation 1 .*ready in"), 0, Duration.ofSeconds(5));
                ObjectNode j = n.putObject(e.getKey());
                j.put("jdk_home", e.getKey().startsWith("jdk17") ? String.valueOf(jdks.get("17")) : String.valueOf(jdks.get("25")));
                if (e.getKey().endsWith("small-heap")) {
                    j.put("JDK_JAVA_OPTIONS", SMALL_HEAP);
                }
                j.put("start_to_listening_ms", Stats.round((listening.nanos() - launched.get(e.getKey())) / 1e6));
                j.put("start_to_generation_1_ready_ms", Stats.round((ready.nanos() - launched.get(e.getKey())) / 1e6));
            }
            ReloadRun.park(Duration.ofSeconds(2)); // let start-up settle
            Map<String, long[]> cpu0 = new LinkedHashMap<>();
            Map<String, List<Long>> rss = new LinkedHashMap<>();
            long t0 = Clock.nanos();
            for (Map.Entry<String, SupervisorTarget> e : sups.entrySet()) {
                cpu0.put(e.getKey(), new long[] {Machine.cpuTicks(e.getValue().pid())});
                rss.put(e.getKey(), new ArrayList<>());
            }
            Bench.say("idle: %d supervisors idle for %.0f s", sups.size(), o.idle.toMillis() / 1000.0);
            long end = System.nanoTime() + o.idle.toNanos();
            while (System.nanoTime() < end) {
                for (Map.Entry<String, SupervisorTarget> e : sups.entrySet()) {
                    rss.get(e.getKey()).add(Machine.rssKb(e.getValue().pid()));
                }
                ReloadRun.park(Duration.ofMillis(Math.min(1000, Math.max(1, (end - System.nanoTime()) / 1_000_000))));
            }
            double seconds = (Clock.nanos() - t0) / 1e9;
            for (Map.Entry<String, SupervisorTarget> e : sups.entrySet()) {
                ObjectNode j = (ObjectNode) n.get(e.getKey());
                long ticks = Machine.cpuTicks(e.getValue().pid()) - cpu0.get(e.getKey())[0];
                List<Long> r = rss.get(e.getKey());
                j.put("idle_cpu_seconds", ticks / (double) Machine.CLK_TCK);
                j.put("idle_cpu_percent", Stats.round(100.0 * ticks / Machine.CLK_TCK / seconds));
                j.put("rss_mib_start", Stats.round(r.get(0) / 1024.0));
                j.put("rss_mib_end", Stats.round(r.get(r.size() - 1) / 1024.0));
                j.put("rss_mib_max", Stats.round(r.stream().mapToLong(Long::longValue).max().orElse(0) / 1024.0));
                j.put("threads", Machine.threads(e.getValue().pid()));
            }
            // CLI wall times: each command starts a JVM (on its own JDK) and talks to the control socket
            for (Map.Entry<String, SupervisorTarget> e : sups.entrySet()) {
                if (e.getKey().endsWith("small-heap")) {
                    continue;
                }
                ObjectNode j = (ObjectNode) n.get(e.getKey());
                Path jdk = e.getKey().startsWith("jdk17") ? jdks.get("17") : jdks.get("25");
                Stats status = cli(b, jdk, e.getValue(), "status", o.quick ? 3 : 10);
                status.json(j.putObject("status_wall_ms"));
                Stats reload = cli(b, jdk, e.getValue(), "reload", o.quick ? 2 : 5);
                reload.json(j.putObject("reload_wall_ms"));
                j.put("rss_mib_after_cli", Stats.round(Machine.rssKb(e.getValue().pid()) / 1024.0));
                Bench.say("idle %s: RSS %.1f MiB, CPU %.2f%%, status %.0f ms (p50), reload %.0f ms (p50)", e.getKey(),
                        j.path("rss_mib_end").asDouble(), j.path("idle_cpu_percent").asDouble(), status.p50, reload.p50);
            }
        } finally {
            sups.values().forEach(SupervisorTarget::close);
        }
        return n;
    }

    /** Wall time (ms) of {@code supervisor CMD} run {@code times} times in a row. */
    static Stats cli(Bench b, Path jdk, SupervisorTarget s, String cmd, int times) throws Exception {
        double[] v = new double[times];
        for (int i = 0; i < times; i++) {
            ProcessBuilder pb = new ProcessBuilder(b.options().home.resolve("bin/supervisor").toString(), cmd, "--control", s.control().toString())
                    .redirectErrorStream(true);
            pb.environment().put("JAVA_HOME", jdk.toString());
            pb.environment().remove("JDK_JAVA_OPTIONS");
            long t = System.nanoTime();
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes());
            int rc = p.waitFor();
            v[i] = (System.nanoTime() - t) / 1e6;
            if (rc != 0) {
                throw new BenchException("supervisor " + cmd + " exited " + rc + ": " + out);
            }
        }
        return Stats.of(v);
    }

    static void markdown(JsonNode n, StringBuilder md) {
        if (n.isMissingNode() || !n.has("seconds")) {
            return;
        }
        md.append("### Idle cost and CLI time, per JDK\n\n");
        md.append(String.format(Locale.ROOT, "The supervisors idle side by side for %.0f s (%s). RSS = VmRSS of the supervisor's JVM. CLI = wall time of "
                + "`bin/supervisor status` / `reload` (a JVM start each) against the idle supervisor. The small-heap rows pass JDK_JAVA_OPTIONS=%s to "
                + "the stock launcher, to show what that launcher flag would save.\n\n", n.path("seconds").asDouble(), n.path("worker").asText(),
                SMALL_HEAP));
        md.append("| JDK | start to listening ms | start to gen 1 ready ms | idle RSS MiB (start / end / max) | idle CPU | threads | status ms (p50 / max) "
                + "| reload ms (p50 / max) |\n|---|---:|---:|---|---:|---:|---|---|\n");
        n.properties().forEach(e -> {
            JsonNode j = e.getValue();
            if (!j.isObject()) {
                return;
            }
            md.append(String.format(Locale.ROOT, "| %s | %.0f | %.0f | %.1f / %.1f / %.1f | %.2f%% (%.2f s) | %d | %s | %s |\n", e.getKey(),
                    j.path("start_to_listening_ms").asDouble(), j.path("start_to_generation_1_ready_ms").asDouble(), j.path("rss_mib_start").asDouble(),
                    j.path("rss_mib_end").asDouble(), j.path("rss_mib_max").asDouble(), j.path("idle_cpu_percent").asDouble(),
                    j.path("idle_cpu_seconds").asDouble(), j.path("threads").asInt(), pair(j.path("status_wall_ms")), pair(j.path("reload_wall_ms"))));
        });
        md.append('\n');
    }

    private static String pair(JsonNode s) {
        if (s.isMissingNode() || s.path("count").asInt() == 0) {
            return "n/a";
        }
        return Stats.fmt(s.path("p50").asDouble(), 0) + " / " + Stats.fmt(s.path("max").asDouble(), 0);
    }
}
