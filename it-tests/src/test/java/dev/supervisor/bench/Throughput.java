package dev.supervisor.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The data path costs nothing: the same lighttpd, with the same config, once binding its own port
 * and once serving the supervisor's socket (LISTEN_FDS), one process each, measured with wrk in
 * alternating rounds in the same run. The ratio is supervisor / alone, the median of the rounds.
 */
final class Throughput {
    private Throughput() {}

    static final Pattern RPS = Pattern.compile("Requests/sec:\\s+([\\d.]+)");
    static final Pattern P50 = Pattern.compile("\\s50%\\s+([\\d.]+)(us|ms|s)");
    static final Pattern P99 = Pattern.compile("\\s99%\\s+([\\d.]+)(us|ms|s)");
    static final Pattern ERRORS = Pattern.compile("Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)");
    static final Pattern NON2XX = Pattern.compile("Non-2xx or 3xx responses: (\\d+)");

    static ObjectNode run(Bench b) throws Exception {
        Bench.Options o = b.options();
        Path wrk = Tools.require("wrk");
        Path lighttpd = Tools.require("lighttpd");
        int port = Tools.freePort();
        Path alone = b.lighttpdConfig("throughput", false, port, false);
        Path activated = b.lighttpdConfig("throughput-activated", true, 0, false);
        ObjectNode n = Bench.object();
        try (Proc lt = Proc.start("lighttpd-alone", List.of(lighttpd.toString(), "-D", "-f", alone.toString()), java.util.Map.of(), b.dir("throughput"),
                b.dir("throughput").resolve("lighttpd.log"));
                SupervisorTarget sup = new SupervisorTarget("supervisor + lighttpd (throughput)", o.home, b.dir("throughput-sup"), "run",
                        List.of("-l", "http=127.0.0.1:0", "-n", "1", "--ready", "delay:50ms", "--drain-signal", "INT"),
                        List.of(lighttpd.toString(), "-D", "-f", activated.toString()), b.launcherEnv(b.defaultJdk()))) {
            lt.await(Pattern.compile("server started"), 0, Duration.ofSeconds(10));
            sup.start();
            String urlAlone = "http://127.0.0.1:" + port + "/index.html";
            String urlSup = "http://127.0.0.1:" + sup.address().getPort() + "/index.html";
            String threads = "2";
            String conns = "32";
            n.put("wrk", "wrk -t" + threads + " -c" + conns + " -d" + o.wrk.toSeconds() + "s --latency URL");
            n.put("worker", "lighttpd, 1 process, same config (static 3-byte file); alone: server.bind/port; under supervisor: "
                    + "server.systemd-socket-activation");
            // warm both up
            wrk(wrk, urlAlone, threads, conns, Duration.ofSeconds(2));
            wrk(wrk, urlSup, threads, conns, Duration.ofSeconds(2));
            List<Double> a = new ArrayList<>();
            List<Double> s = new ArrayList<>();
            List<Double> ratios = new ArrayList<>();
            ArrayNode rounds = n.putArray("rounds");
            for (int r = 0; r < o.wrkRounds; r++) {
                ObjectNode ra;
                ObjectNode rs;
                if (r % 2 == 0) {
                    ra = wrk(wrk, urlAlone, threads, conns, o.wrk);
                    rs = wrk(wrk, urlSup, threads, conns, o.wrk);
                } else {
                    rs = wrk(wrk, urlSup, threads, conns, o.wrk);
                    ra = wrk(wrk, urlAlone, threads, conns, o.wrk);
                }
                ObjectNode rn = rounds.addObject();
                rn.set("alone", ra);
                rn.set("supervisor", rs);
                a.add(ra.path("requests_per_second").asDouble());
                s.add(rs.path("requests_per_second").asDouble());
                double ratio = rs.path("requests_per_second").asDouble() / ra.path("requests_per_second").asDouble();
                ratios.add(ratio);
                rn.put("ratio", Stats.round(ratio));
                Bench.say("throughput round %d: alone %.0f req/s, under supervisor %.0f req/s, ratio %.3f", r + 1, a.get(r), s.get(r), ratio);
            }
            double sa = a.stream().mapToDouble(Double::doubleValue).sum();
            double ss = s.stream().mapToDouble(Double::doubleValue).sum();
            n.put("alone_requests_per_second", Stats.round(sa / a.size()));
            n.put("supervisor_requests_per_second", Stats.round(ss / s.size()));
            // the median of the paired rounds: the machine is shared, and one round's neighbour can
            // slow either side
            n.put("ratio", Stats.round(Stats.of(ratios).p50));
            n.put("ratio_of_sums", Stats.round(ss / sa));
            n.put("ratio_min_round", Stats.round(ratios.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN)));
            n.put("ratio_max_round", Stats.round(ratios.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN)));
            n.put("load_during_run", Machine.read("/proc/loadavg").strip());
        }
        return n;
    }

    static ObjectNode wrk(Path wrk, String url, String threads, String conns, Duration d) throws Exception {
        Process p = new ProcessBuilder(wrk.toString(), "-t" + threads, "-c" + conns, "-d" + Math.max(1, d.toSeconds()) + "s", "--latency", url)
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        ObjectNode n = Bench.object();
        Matcher m = RPS.matcher(out);
        if (!m.find()) {
            throw new BenchException("wrk printed no Requests/sec:\n" + out);
        }
        n.put("requests_per_second", Double.parseDouble(m.group(1)));
        if ((m = P50.matcher(out)).find()) {
            n.put("latency_p50_ms", Stats.round(ms(m)));
        }
        if ((m = P99.matcher(out)).find()) {
            n.put("latency_p99_ms", Stats.round(ms(m)));
        }
        long errors = 0;
        if ((m = ERRORS.matcher(out)).find()) {
            for (int g = 1; g <= 4; g++) {
                errors += Long.parseLong(m.group(g));
            }
        }
        if ((m = NON2XX.matcher(out)).find()) {
            errors += Long.parseLong(m.group(1));
        }
        n.put("errors", errors);
        return n;
    }

    private static double ms(Matcher m) {
        double v = Double.parseDouble(m.group(1));
        return switch (m.group(2)) {
            case "us" -> v / 1000;
            case "s" -> v * 1000;
            default -> v;
        };
    }

    static void markdown(JsonNode n, StringBuilder md) {
        if (n.isMissingNode() || !n.has("ratio")) {
            return;
        }
        md.append("### Throughput: the same worker under supervisor and alone\n\n");
        md.append(n.path("worker").asText()).append("; `").append(n.path("wrk").asText()).append("`, ").append(n.path("rounds").size())
                .append(" alternating rounds.\n\n");
        md.append("| round | alone req/s | under supervisor req/s | ratio | p99 alone / supervisor ms |\n|---:|---:|---:|---:|---|\n");
        int i = 1;
        for (JsonNode r : n.path("rounds")) {
            md.append(String.format(Locale.ROOT, "| %d | %.0f | %.0f | %.3f | %s / %s |\n", i++, r.path("alone").path("requests_per_second").asDouble(),
                    r.path("supervisor").path("requests_per_second").asDouble(), r.path("ratio").asDouble(),
                    Stats.fmt(r.path("alone").path("latency_p99_ms").asDouble(), 2), Stats.fmt(r.path("supervisor").path("latency_p99_ms").asDouble(), 2)));
        }
        md.append(String.format(Locale.ROOT, "| mean | %.0f | %.0f | median **%.3f** (of sums %.3f) | |\n\n", n.path("alone_requests_per_second").asDouble(),
                n.path("supervisor_requests_per_second").asDouble(), n.path("ratio").asDouble(), n.path("ratio_of_sums").asDouble()));
    }
}
