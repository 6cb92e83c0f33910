package dev.supervisor.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.supervisor.protocol.Message;

/**
 * The results of one benchmark run: {@code results.json} (everything), {@code results.md} (the
 * tables, built from that same JSON) and SVG timelines of the supervisor runs.
 */
final class Report {
    private final Bench.Options o;
    final ObjectNode root = Bench.object();
    final ObjectNode scenarios;
    final Map<String, ReloadRun> runs = new LinkedHashMap<>();
    private int errors;

    Report(Bench.Options o) {
        this.o = o;
        root.put("command", o.command);
        root.put("quick", o.quick);
        root.put("started", ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME));
        ObjectNode p = root.putObject("parameters");
        p.put("reloads_listen_fds_child", o.reloads);
        p.put("reloads_demo", o.demoReloads);
        p.put("reloads_spring", o.springReloads);
        p.put("reloads_others", o.otherReloads);
        p.put("reload_budget_minutes", o.reloadBudget.toMinutes());
        p.put("steady_seconds", o.steady.toMillis() / 1000.0);
        p.put("gap_between_reloads_ms", o.gap.toMillis());
        p.put("spaced_reloads", o.spacedReloads);
        p.put("gap_between_spaced_reloads_ms", o.spacedGap.toMillis());
        p.put("clients_per_mode", o.clients);
        p.put("requests_per_second_per_client", o.rate);
        scenarios = root.putObject("scenarios");
    }

    int errors() {
        return errors;
    }

    void machine(Bench b) {
        ObjectNode m = root.putObject("machine");
        m.put("nproc", Runtime.getRuntime().availableProcessors());
        m.put("cpu", Machine.cpuModel());
        m.put("kernel", Machine.read("/proc/sys/kernel/osrelease").strip());
        m.put("memory_mib", Machine.memTotalKb() / 1024);
        m.put("loadavg_at_start", Machine.read("/proc/loadavg").strip());
        ObjectNode j = m.putObject("jdks");
        for (Map.Entry<String, Path> e : Tools.jdks().entrySet()) {
            j.put(e.getKey(), e.getValue() + ": " + Tools.firstLine(List.of(e.getValue().resolve("bin/java").toString(), "-version")));
        }
        m.put("bench_jvm", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
        m.put("bench_ignored_signals_reset_for_servers", Proc.ignoredSignals());
        ObjectNode t = m.putObject("tools");
        Tools.find("nginx").ifPresent(x -> t.put("nginx", Tools.firstLine(List.of(x.toString(), "-v"))));
        Tools.find("haproxy").ifPresent(x -> t.put("haproxy", Tools.firstLine(List.of(x.toString(), "-v"))));
        Tools.find("gunicorn").ifPresent(x -> t.put("gunicorn", Tools.firstLine(List.of(x.toString(), "--version"))));
        Tools.find("lighttpd").ifPresent(x -> t.put("lighttpd", Tools.firstLine(List.of(x.toString(), "-v"))));
        Tools.find("wrk").ifPresent(x -> t.put("wrk", Tools.firstLine(List.of(x.toString(), "-v"))));
        m.put("git_commit", Tools.firstLine(List.of("git", "rev-parse", "--short", "HEAD")));
    }

    void reloadRun(String name, ReloadRun r) {
        runs.put(name, r);
        ObjectNode n = r.analyze();
        n.put("load_during_run", Machine.read("/proc/loadavg").strip());
        scenarios.set(name, n);
    }

    void put(String name, ObjectNode n) {
        scenarios.set(name, n);
    }

    void skipped(String name, String reason) {
        scenarios.putObject(name).put("skipped", reason);
    }

    void error(String name, Throwable e) {
        errors++;
        scenarios.putObject(name).put("error", String.valueOf(e));
    }

    void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        root.put("finished", ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME));
        ((ObjectNode) root.get("machine")).put("loadavg_at_end", Machine.read("/proc/loadavg").strip());
        Files.writeString(dir.resolve("results.json"), Message.json().copy().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(root) + "\n");
        for (Map.Entry<String, ReloadRun> e : runs.entrySet()) {
            ReloadRun r = e.getValue();
            if (!r.timeline.isEmpty() && r.samples != null) {
                Files.writeString(dir.resolve("timeline-" + e.getKey() + ".svg"), Chart.svg(r));
                long pivot = r.burstFrom == Long.MAX_VALUE ? r.reloadFrom : r.burstFrom;
                long from = Math.max(r.steadyFrom, pivot - 5_000_000_000L);
                long to = Math.min(r.end, pivot + 5_000_000_000L);
                Files.writeString(dir.resolve("timeline-" + e.getKey() + "-zoom.svg"), Chart.svg(r, from, to, "spaced, then back-to-back reloads"));
            }
        }
        Files.writeString(dir.resolve("results.md"), markdown());
    }

    // ---- markdown ----

    String markdown() {
        StringBuilder md = new StringBuilder();
        JsonNode m = root.path("machine");
        md.append("Command: `").append(root.path("command").asText()).append("`, ").append(root.path("started").asText()).append("\n\n");
        md.append("Machine: ").append(m.path("nproc").asInt()).append(" CPUs (").append(m.path("cpu").asText()).append("), ")
                .append(m.path("memory_mib").asLong() / 1024).append(" GiB, Linux ").append(m.path("kernel").asText()).append("; load average at start ")
                .append(m.path("loadavg_at_start").asText()).append(" (the machine is shared with other work)\n\n");
        m.path("jdks").properties().forEach(e -> md.append("- JDK ").append(e.getKey()).append(": ").append(e.getValue().asText()).append('\n'));
        m.path("tools").properties().forEach(e -> md.append("- ").append(e.getValue().asText()).append('\n'));
        md.append('\n');
        targets(md);
        reloadTables(md);
        Overhead.markdown(scenarios.path("overhead"), md);
        Throughput.markdown(scenarios.path("throughput"), md);
        Idle.markdown(scenarios.path("idle"), md);
        Scale.markdown(scenarios, md);
        List<String> other = new ArrayList<>();
        scenarios.properties().forEach(e -> {
            if (e.getValue().has("skipped")) {
                other.add("- " + e.getKey() + ": skipped: " + e.getValue().path("skipped").asText());
            } else if (e.getValue().has("error")) {
                other.add("- " + e.getKey() + ": ERROR: " + e.getValue().path("error").asText());
            }
        });
        if (!other.isEmpty()) {
            md.append("### Not measured\n\n").append(String.join("\n", other)).append("\n\n");
        }
        return md.toString();
    }

    private void reloadTables(StringBuilder md) {
        List<JsonNode> rows = new ArrayList<>();
        scenarios.properties().forEach(e -> {
            if (e.getValue().has("reloads_asked") && !e.getKey().startsWith("scale-")) {
                rows.add(e.getValue());
            }
        });
        if (rows.isEmpty()) {
            return;
        }
        md.append("### Reloads under load\n\n");
        md.append(String.format(Locale.ROOT, "%d fresh-connection clients and %d keep-alive clients, %.0f requests/s each, at once; a steady phase of "
                + "%.0f s, then %d reloads %.1f s apart, then the rest back to back (each waited for, then %d ms). Failed = refused + reset + closed "
                + "mid-request + timeout + 5xx; a keep-alive connection that the server closed cleanly between requests is reconnected, not failed.\n\n",
                o.clients, o.clients, o.rate, o.steady.toMillis() / 1000.0, o.spacedReloads, o.spacedGap.toMillis() / 1000.0, o.gap.toMillis()));
        md.append("Configurations: supervisor + lighttpd: `run -n 2 --ready delay:50ms --drain-signal INT` (INT = lighttpd's graceful stop); "
                + "supervisor + demo: `demo -n 1` (ready by notify); supervisor + gunicorn: `run --ready notify`, gunicorn 2 gthread workers with `-c examples/gunicorn.conf.py` (READY=1 once both loaded the app); "
                + "nginx: 2 workers, `return 200`; HAProxy: `-W` master-worker, `http-request return`, `expose-fd listeners` and "
                + "`option idle-close-on-response` (its documented settings for seamless reloads); gunicorn: 2 gthread workers binding its own port. "
                + "Every server on a loopback port of its own, from a config in a temp directory.\n\n");
        md.append("| target | reload via | reloads ok / asked | requests fresh / keep-alive | failed fresh | failed keep-alive | failed per reload |\n");
        md.append("|---|---|---:|---:|---|---|---:|\n");
        for (JsonNode r : rows) {
            JsonNode f = r.path("modes").path("fresh");
            JsonNode k = r.path("modes").path("keepalive");
            double perReload = r.path("reloads_asked").asInt() == 0 ? 0
                    : (f.path("failed_during_reloads").asDouble() + k.path("failed_during_reloads").asDouble()) / Math.max(1, r.path("reloads_ok").asInt()
                            + r.path("reloads_failed").asInt());
            md.append("| ").append(r.path("target").asText()).append(" | ").append(r.path("reload_method").asText()).append(" | ")
                    .append(r.path("reloads_ok").asInt()).append(" / ").append(r.path("reloads_asked").asInt()).append(" | ")
                    .append(f.path("requests").asLong()).append(" / ").append(k.path("requests").asLong()).append(" | ").append(failedCell(f)).append(" | ")
                    .append(failedCell(k)).append(" | ").append(Stats.fmt(perReload, 3)).append(" |\n");
        }
        md.append("\nA keep-alive request \"closed mid-request\" was sent on an idle connection just as the server's old worker closed it. The "
                + "client then retried it once on a new connection (RFC 9112 9.3.1 allows that for idempotent requests); the failure still counts. "
                + "Retries answered: ");
        List<String> retries = new ArrayList<>();
        for (JsonNode r : rows) {
            long ok = r.path("keepalive_closed_retried_ok").asLong();
            long bad = r.path("keepalive_closed_retried_failed").asLong();
            if (ok + bad > 0) {
                retries.add(r.path("target").asText() + " " + ok + " of " + (ok + bad));
            }
        }
        md.append(retries.isEmpty() ? "none needed" : String.join(", ", retries)).append(".\n");
        md.append("\n### Latency (ms, p50 / p99 / max; successful requests)\n\n");
        md.append("Latency runs from the moment a request was due (each client sends at a constant rate), so a stall counts for every request it "
                + "held up, not only for the ones in flight.\n\n");
        md.append("Steady = the steady phase after its first seconds; after reload = requests started from a spaced reload's request until 1 s after it was done (the new generation starting, the old one draining, and the second after); "
                + "back to back = the phase of reloads one after the other (new workers starting and old ones draining all the time).\n\n");
        md.append("| target | fresh, steady | fresh, after reload | fresh, back to back | keep-alive, steady | keep-alive, after reload | keep-alive, back to back |\n"
                + "|---|---|---|---|---|---|---|\n");
        for (JsonNode r : rows) {
            JsonNode f = r.path("modes").path("fresh");
            JsonNode k = r.path("modes").path("keepalive");
            md.append("| ").append(r.path("target").asText()).append(" | ").append(triple(f.path("latency_steady_ms"))).append(" | ")
                    .append(triple(f.path("latency_after_reload_ms"))).append(" | ").append(triple(f.path("latency_back_to_back_reloads_ms"))).append(" | ")
                    .append(triple(k.path("latency_steady_ms"))).append(" | ").append(triple(k.path("latency_after_reload_ms"))).append(" | ")
                    .append(triple(k.path("latency_back_to_back_reloads_ms"))).append(" |\n");
        }
        md.append("\n### Reload timing (ms, p50 / p99 / max)\n\n");
        md.append("Done = from the reload request until the target said the new generation serves (supervisor: the control socket's answer; "
                + "nginx/gunicorn: the master's 'worker started' lines; HAProxy: 'Loading success'). First answer = until a request answered by the "
                + "new generation completed. The supervisor columns come from its own log: request-to-ready, the slowest worker's own start-to-ready, "
                + "and the difference, the supervisor's overhead.\n\n");
        md.append("| target | reloads | done | first answer from new generation | supervisor: request to ready | slowest worker | supervisor overhead |\n");
        md.append("|---|---:|---|---|---|---|---|\n");
        for (JsonNode r : rows) {
            JsonNode s = r.path("supervisor_timeline");
            md.append("| ").append(r.path("target").asText()).append(" | ").append(r.path("reloads_ok").asInt()).append(" | ")
                    .append(triple(r.path("reload_done_ms"))).append(" | ").append(triple(r.path("first_answer_from_new_generation_ms"))).append(" | ")
                    .append(s.isMissingNode() ? "n/a" : triple(s.path("request_to_ready_ms"))).append(" | ")
                    .append(s.isMissingNode() ? "n/a" : triple(s.path("slowest_worker_start_to_ready_ms"))).append(" | ")
                    .append(s.isMissingNode() ? "n/a" : triple(s.path("overhead_ms"), 2)).append(" |\n");
        }
        md.append('\n');
    }

    /** The targets against this run's figures. */
    private void targets(StringBuilder md) {
        List<String[]> rows = new ArrayList<>();
        for (String k : List.of("sup-lighttpd", "sup-demo", "sup-gunicorn")) {
            JsonNode r = scenarios.path(k);
            if (!r.has("reloads_ok")) {
                continue;
            }
            long f = r.path("modes").path("fresh").path("failed").asLong();
            long ka = r.path("modes").path("keepalive").path("failed").asLong();
            int n = r.path("reloads_ok").asInt();
            rows.add(new String[] {"0 failed requests in >= 1,000 reloads, both modes", r.path("target").asText() + ", " + n + " reloads: fresh " + f
                    + ", keep-alive " + ka + (ka > 0 ? " (" + failedCell(r.path("modes").path("keepalive")) + ")" : ""),
                    f == 0 && ka == 0 ? (n >= 1000 ? "met" : "0 failed, but " + n + " < 1,000 reloads") : (f == 0 ? "fresh met; keep-alive missed" : "missed")});
        }
        for (String k : List.of("sup-lighttpd", "sup-demo", "sup-gunicorn")) {
            JsonNode r = scenarios.path(k);
            if (!r.has("reloads_ok")) {
                continue;
            }
            for (String m : List.of("fresh", "keepalive")) {
                double steady = r.path("modes").path(m).path("latency_steady_ms").path("p99").asDouble(Double.NaN);
                double after = r.path("modes").path(m).path("latency_after_reload_ms").path("p99").asDouble(Double.NaN);
                double b2b = r.path("modes").path(m).path("latency_back_to_back_reloads_ms").path("p99").asDouble(Double.NaN);
                rows.add(new String[] {"p99 from a reload until 1 s after it <= 2 x steady p99", r.path("target").asText() + ", " + m + ", "
                        + r.path("reloads_spaced").asInt() + " spaced reloads: " + Stats.fmt(after, 1) + " vs " + Stats.fmt(steady, 1) + " ms ("
                        + Stats.fmt(after / steady, 2) + " x); back to back: " + Stats.fmt(b2b, 1) + " ms", after <= 2 * steady ? "met" : "missed"});
            }
        }
        JsonNode ov = scenarios.path("sup-lighttpd").path("supervisor_timeline").path("overhead_ms");
        if (ov.path("count").asInt() > 0) {
            rows.add(new String[] {"supervisor overhead <= 5 ms a reload", "supervisor + lighttpd under load, " + ov.path("count").asInt()
                    + " reloads: p50 " + Stats.fmt(ov.path("p50").asDouble(), 2) + ", p99 " + Stats.fmt(ov.path("p99").asDouble(), 2) + ", max "
                    + Stats.fmt(ov.path("max").asDouble(), 2) + " ms", ov.path("p50").asDouble() <= 5 ? (ov.path("p99").asDouble() <= 5 ? "met" : "p50 met, p99 missed")
                            : "missed"});
        }
        for (String k : List.of("lighttpd_2_workers_delay_50ms", "python_2_workers_notify")) {
            JsonNode o2 = scenarios.path("overhead").path(k).path("overhead_ms");
            if (o2.path("count").asInt() > 0) {
                rows.add(new String[] {"supervisor overhead <= 5 ms a reload", "no load, " + k.replace('_', ' ') + ", " + o2.path("count").asInt()
                        + " reloads: p50 " + Stats.fmt(o2.path("p50").asDouble(), 2) + ", p99 " + Stats.fmt(o2.path("p99").asDouble(), 2) + " ms",
                        o2.path("p50").asDouble() <= 5 ? (o2.path("p99").asDouble() <= 5 ? "met" : "p50 met, p99 missed") : "missed"});
            }
        }
        JsonNode t = scenarios.path("throughput");
        if (t.has("ratio")) {
            rows.add(new String[] {"throughput ratio >= 0.99", "lighttpd under supervisor / alone, median of " + t.path("rounds").size() + " rounds: "
                    + Stats.fmt(t.path("ratio").asDouble(), 3) + " (rounds "
                    + Stats.fmt(t.path("ratio_min_round").asDouble(), 3) + " to " + Stats.fmt(t.path("ratio_max_round").asDouble(), 3) + ")",
                    t.path("ratio").asDouble() >= 0.99 ? "met" : "missed"});
        }
        JsonNode idle = scenarios.path("idle");
        for (String k : List.of("jdk17", "jdk25")) {
            if (idle.path(k).has("rss_mib_end")) {
                double rss = idle.path(k).path("rss_mib_end").asDouble();
                rows.add(new String[] {"idle RSS <= 40 MB", k + ": " + Stats.fmt(rss, 1) + " MiB (" + Stats.fmt(rss * 1.048576, 1) + " MB); with "
                        + Idle.SMALL_HEAP + ": " + Stats.fmt(idle.path(k + "-small-heap").path("rss_mib_end").asDouble(), 1) + " MiB",
                        rss * 1.048576 <= 40 ? "met" : "missed"});
            }
        }
        if (rows.isEmpty()) {
            return;
        }
        md.append("### Targets\n\n| target | measured | |\n|---|---|---|\n");
        for (String[] r : rows) {
            md.append("| ").append(r[0]).append(" | ").append(r[1]).append(" | ").append(r[2]).append(" |\n");
        }
        md.append('\n');
    }

    static String failedCell(JsonNode mode) {
        long failed = mode.path("failed").asLong();
        if (failed == 0) {
            return "0";
        }
        JsonNode o = mode.path("outcomes");
        List<String> parts = new ArrayList<>();
        for (String k : List.of("refused", "reset", "closed", "timeout", "http_error")) {
            if (o.path(k).asLong() > 0) {
                parts.add(k.replace("http_error", "5xx").replace("closed", "closed mid-request") + " " + o.path(k).asLong());
            }
        }
        return failed + " (" + String.join(", ", parts) + ")";
    }

    static String triple(JsonNode s) {
        return triple(s, 1);
    }

    static String triple(JsonNode s, int digits) {
        if (s.path("count").asInt() == 0) {
            return "n/a";
        }
        return Stats.fmt(s.path("p50").asDouble(), digits) + " / " + Stats.fmt(s.path("p99").asDouble(), digits) + " / "
                + Stats.fmt(s.path("max").asDouble(), digits);
    }
}
