package dev.supervisor.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The supervisor's own reload overhead, without load, as its log reports it, reloaded by SIGHUP:
 * two lighttpd workers ready after a fixed delay (so request-to-ready minus the delay is the
 * supervisor's whole share, the same measure in any build) and two python workers ready by
 * READY=1. Run it with {@code --home} pointing at another build to compare builds.
 */
final class Overhead {
    private Overhead() {}

    static final String READY_PY = String.join("\n",
            "import os, signal, socket, time",
            "signal.signal(signal.SIGTERM, lambda *a: os._exit(0))",
            "u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
            "u.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])",
            "while True:",
            "    time.sleep(3600)",
            "");

    static ObjectNode run(Bench b) throws Exception {
        Bench.Options o = b.options();
        int reloads = o.quick ? 5 : 100;
        ObjectNode n = Bench.object();
        n.put("reloads_each", reloads);
        n.put("reload_via", "SIGHUP, then wait for the 'generation N ready' line, then 100 ms");
        n.put("distribution", o.home.toString());
        Path lighttpd = Tools.require("lighttpd");
        Path python = Tools.require("python3");
        Path conf = b.lighttpdConfig("overhead", true, 0, false);
        Path script = b.dir("overhead").resolve("ready.py");
        Files.writeString(script, READY_PY);
        n.set("lighttpd_2_workers_delay_50ms", one(b, "overhead-lighttpd", List.of("--ready", "delay:50ms", "--drain-signal", "INT"),
                List.of(lighttpd.toString(), "-D", "-f", conf.toString()), reloads, 50));
        n.set("python_2_workers_notify", one(b, "overhead-python", List.of("--ready", "notify"), List.of(python.toString(), script.toString()), reloads, 0));
        return n;
    }

    private static ObjectNode one(Bench b, String name, List<String> ready, List<String> cmd, int reloads, int delayMs) throws Exception {
        List<String> opts = new ArrayList<>(List.of("-l", "http=127.0.0.1:0", "-n", "2"));
        opts.addAll(ready);
        ObjectNode n = Bench.object();
        try (SupervisorTarget s = new SupervisorTarget(name, b.options().home, b.dir(name), "run", opts, cmd, b.launcherEnv(b.defaultJdk()))
                .via(SupervisorTarget.ReloadVia.SIGHUP)) {
            s.start();
            long cpu0 = Machine.cpuTicks(s.pid());
            int ok = 0;
            int failedInARow = 0;
            for (int i = 0; i < reloads; i++) {
                Target.Reload r = s.reload();
                if (r.ok()) {
                    ok++;
                    failedInARow = 0;
                } else if (++failedInARow >= 3) {
                    throw new BenchException(name + ": 3 reloads in a row failed; last: " + r.error());
                }
                ReloadRun.park(Duration.ofMillis(100));
            }
            long cpu = Machine.cpuTicks(s.pid()) - cpu0;
            List<Double> over = new ArrayList<>();
            List<Double> minusDelay = new ArrayList<>();
            List<Double> total = new ArrayList<>();
            for (SupervisorTarget.Generation g : s.timeline().values()) {
                if (g.number() > 1 && g.readyMs() >= 0) {
                    over.add(g.overheadMs());
                    total.add((double) g.readyMs());
                    minusDelay.add((double) g.readyMs() - delayMs);
                }
            }
            n.put("reloads_ok", ok);
            Stats.of(over).json(n.putObject("overhead_ms"));
            Stats.of(total).json(n.putObject("request_to_ready_ms"));
            if (delayMs > 0) {
                Stats.of(minusDelay).json(n.putObject("request_to_ready_minus_delay_ms"));
            }
            n.put("supervisor_cpu_ms_per_reload", Stats.round(cpu * 1000.0 / Machine.CLK_TCK / Math.max(1, reloads)));
            n.put("load", Machine.read("/proc/loadavg").strip());
            n.put("exit_code", s.stop());
        }
        Bench.say("%s: %s", name, n);
        return n;
    }

    static void markdown(JsonNode n, StringBuilder md) {
        if (n.isMissingNode() || !n.has("reloads_each")) {
            return;
        }
        md.append("### Supervisor overhead without load (").append(n.path("reloads_each").asInt()).append(" reloads each, ")
                .append(n.path("reload_via").asText()).append(")\n\n");
        md.append("| workers | request to ready ms (p50 / p99 / max) | minus the delay | overhead ms (p50 / p99 / max) | supervisor CPU per reload |\n");
        md.append("|---|---|---|---|---:|\n");
        for (String k : List.of("lighttpd_2_workers_delay_50ms", "python_2_workers_notify")) {
            JsonNode j = n.path(k);
            if (j.isMissingNode()) {
                continue;
            }
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %.1f ms |\n", k.replace('_', ' '), Report.triple(j.path("request_to_ready_ms")),
                    j.has("request_to_ready_minus_delay_ms") ? Report.triple(j.path("request_to_ready_minus_delay_ms")) : "n/a",
                    Report.triple(j.path("overhead_ms"), 2), j.path("supervisor_cpu_ms_per_reload").asDouble()));
        }
        md.append('\n');
    }
}
