package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * {@code --metrics}: {@code /metrics} read by the Prometheus client's own parser (Debian's
 * python3-prometheus-client, in both the text format and OpenMetrics), {@code /ready}, and what
 * {@code status --json} adds: the reload history, the accept queue and the connections of each
 * generation.
 */
class MetricsIT {
    private static final Duration STEP = Duration.ofSeconds(30);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void reloadCountersLastReloadGaugeAndReadiness() throws Exception {
        Path config = tmp.resolve("supervisor.json");
        writeConfig(config, app("serve", "--warmup", "2000"));
        try (SupervisorProcess s = SupervisorProcess.run(tmp).option("-c", config.toString()).start()) {
            String base = metricsUrl(s);
            assertEquals(503, get(base + "/ready"), "generation 1 warms up: not ready" + s);
            assertEquals(200, get(base + "/live"));
            s.awaitReady(1);
            assertEquals(200, get(base + "/ready"), "generation 1 serves" + s);
            Map<String, Double> m = scrape(base, false);
            assertEquals(0.0, m.get("supervisor_reloads_total{result=\"ok\"}"));
            assertEquals(1.0, m.get("supervisor_config_last_reload_successful"));
            double started = m.get("supervisor_config_last_reload_success_timestamp_seconds");
            assertEquals(1.0, m.get("supervisor_serving_generation"));
            assertTrue(m.keySet().stream().anyMatch(k -> k.startsWith("supervisor_build_info{version=")), m.toString());
            assertTrue(m.get("process_resident_memory_bytes") > 1e6 && m.get("process_open_fds") > 3
                    && m.get("process_cpu_seconds_total") > 0 && m.get("process_start_time_seconds") > 1e9, m.toString());

            // A release whose worker exits before it is ready: the reload fails, the gauge goes to 0.
            writeConfig(config, app("exit-early", "3"));
            SupervisorProcess.Cli failed = s.cli("reload", "--control", s.control().toString());
            assertEquals(1, failed.exit(), failed.toString());
            m = scrape(base, false);
            assertEquals(1.0, m.get("supervisor_reloads_total{result=\"failed\"}"), m.toString());
            assertEquals(0.0, m.get("supervisor_reloads_total{result=\"ok\"}"));
            assertEquals(0.0, m.get("supervisor_config_last_reload_successful"));
            assertEquals(started, m.get("supervisor_config_last_reload_success_timestamp_seconds"));
            assertEquals(200, get(base + "/ready"), "generation 1 still serves");
            JsonNode last = s.status().path("reloads").get(0);
            assertEquals("failed", last.path("result").asText(), last.toString());
            assertEquals("control", last.path("trigger").asText());
            assertTrue(last.path("reason").asText().matches("worker 2\\.0 \\(pid \\d+\\) exited with code 3 before it was ready"), last.toString());
            assertTrue(last.has("requested_ms") && last.has("finished_ms") && !last.has("ready_ms"), last.toString());

            // A good release: back to 1, one more ok, one reload in each histogram.
            writeConfig(config, app("serve"));
            SupervisorProcess.Cli ok = s.cli("reload", "--control", s.control().toString());
            assertEquals(0, ok.exit(), ok.toString());
            m = scrape(base, false);
            assertEquals(1.0, m.get("supervisor_reloads_total{result=\"ok\"}"), m.toString());
            assertEquals(1.0, m.get("supervisor_config_last_reload_successful"));
            assertTrue(m.get("supervisor_config_last_reload_success_timestamp_seconds") > started);
            assertEquals(3.0, m.get("supervisor_serving_generation"));
            assertEquals(1.0, m.get("supervisor_reload_duration_seconds_count"));
            assertEquals(1.0, m.get("supervisor_reload_duration_seconds_bucket{le=\"+Inf\"}"));
            assertEquals(1.0, m.get("supervisor_reload_overhead_seconds_count"));
            assertEquals(1.0, m.get("supervisor_generations{state=\"ready\"}"));
            JsonNode good = s.status().path("reloads").get(0);
            assertEquals("ok", good.path("result").asText(), good.toString());
            assertTrue(good.path("ready_ms").asLong() >= good.path("requested_ms").asLong() && good.has("overhead_us"), good.toString());

            // The same numbers in OpenMetrics, for a scraper that asks for it.
            Map<String, Double> om = scrape(base, true);
            assertEquals(1.0, om.get("supervisor_reloads_total{result=\"ok\"}"), om.toString());
            assertEquals(1.0, om.get("supervisor_reloads_total{result=\"failed\"}"));
            assertEquals(0.0, om.get("supervisor_worker_restarts_total"));

            SupervisorProcess.Cli text = s.cli("status", "--control", s.control().toString());
            assertTrue(text.stdout().contains("reloads, newest first:\n  #2 control, "), text.stdout());
            assertTrue(text.stdout().lines().anyMatch(l -> l.matches("  #1 control, \\d+s ago: failed after \\d+ ms: worker 2\\.0 .*")),
                    text.stdout());
        }
    }

    @Test
    void acceptQueueOfAWorkerThatDoesNotAcceptAndTheWarning() throws Exception {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").option("--metrics", "127.0.0.1:0")
                .option("--ready", "delay:100ms").command("sleep", "600").start();
                Connections waiting = new Connections()) {
            String base = metricsUrl(s);
            int port = s.port("web");
            s.awaitReady(1);
            for (int i = 0; i < 5; i++) {
                waiting.open(port);
            }
            Map<String, Double> m = awaitScrape(base, x -> x.get("supervisor_listener_accept_queue_length{listener=\"web\"}") == 5.0);
            int limit = Math.min(4096, Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/net/core/somaxconn")).get(0).trim()));
            assertEquals(limit, m.get("supervisor_listener_accept_queue_limit{listener=\"web\"}"), m.toString());
            JsonNode q = s.status().path("listeners").get(0).path("accept_queue");
            assertEquals(5, q.path("length").asInt(), q.toString());
            assertEquals(limit, q.path("limit").asInt());

            // Above half the limit, never shrinking: the warning names the listener and the generation.
            while (waiting.count() <= limit / 2) {
                waiting.open(port);
            }
            s.awaitLine("^supervisor: warning: listener web: accept queue above half its limit \\(\\d+ of " + limit
                    + "\\) for 3s without shrinking; not accepted by generation 1 \\(ready\\)$", STEP);
        }
    }

    @Test
    void anOldGenerationsConnectionsFallToZeroAsItDrains() throws Exception {
        Path control = Fixtures.privateDir(tmp).resolve("ctl.sock");
        try (SupervisorProcess s = SupervisorProcess.run(tmp).rawArgs("demo", "--port", "0", "--metrics", "127.0.0.1:0", "--control",
                control.toString()).start(); KeepAlive clients = new KeepAlive()) {
            String base = metricsUrl(s);
            int port = s.port("http");
            s.awaitReady(1);
            for (int i = 0; i < 3; i++) {
                clients.open(port);
                assertTrue(clients.request(i, "/").contains("\"generation\":1"));
            }
            awaitScrape(base, x -> Double.valueOf(3.0).equals(x.get("supervisor_generation_connections{generation=\"1\"}")));
            // Three requests in flight across the reload, ending 4, 8 and 12 s from now: each is answered
            // with Connection: close, and generation 1 holds one connection fewer.
            for (int i = 0; i < 3; i++) {
                clients.send(i, "/?sleep=" + 4000 * (i + 1));
            }
            SupervisorProcess.Cli reload = s.cli("reload", "--control", control.toString());
            assertEquals(0, reload.exit(), reload.toString());
            JsonNode g1 = s.status().path("generations").get(0);
            assertEquals("DRAINING", g1.path("state").asText(), g1.toString());
            assertTrue(g1.path("connections").asInt() > 0, g1.toString());
            List<Double> seen = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (true) {
                Map<String, Double> m = scrape(base, false);
                Double held = m.get("supervisor_generation_connections{generation=\"1\"}");
                if (held == null) {
                    break; // generation 1 has exited
                }
                assertEquals(0.0, m.get("supervisor_generation_connections{generation=\"2\"}"), m.toString());
                seen.add(held);
                assertTrue(System.nanoTime() < deadline, "generation 1 still holds connections after 60 s: " + seen);
            }
            for (int i = 1; i < seen.size(); i++) {
                assertTrue(seen.get(i) <= seen.get(i - 1), "connections of a draining generation only fall: " + seen);
            }
            assertTrue(seen.get(0) >= 2 && seen.stream().anyMatch(n -> n < seen.get(0) && n > 0), "seen falling one by one: " + seen);
            for (int i = 0; i < 3; i++) {
                String answer = clients.response(i);
                assertTrue(answer.contains("\"generation\":1"), answer);
            }
            s.awaitLine("^supervisor: generation 1 exited$", STEP);
        }
    }

    // ---- helpers ----

    private static String metricsUrl(SupervisorProcess s) {
        return s.awaitLine("^supervisor: metrics (http://127\\.0\\.0\\.1:\\d+)/metrics$", SupervisorProcess.STARTUP).group(1);
    }

    private void writeConfig(Path file, List<String> command) throws IOException {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("listen", List.of("http=127.0.0.1:0"));
        c.put("command", command);
        c.put("ready", "notify");
        c.put("ready-timeout", "20s");
        c.put("metrics", "127.0.0.1:0");
        Path next = file.resolveSibling(file.getFileName() + ".new");
        Files.writeString(next, JSON.writeValueAsString(c));
        Files.move(next, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    private static List<String> app(String... args) throws URISyntaxException {
        List<String> cmd = new ArrayList<>(List.of(Fixtures.python(), "-u", Path.of(MetricsIT.class.getResource("/reload/app.py").toURI()).toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private static int get(String url) throws IOException {
        HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection();
        c.setConnectTimeout(20_000);
        c.setReadTimeout(20_000);
        try {
            return c.getResponseCode();
        } finally {
            c.disconnect();
        }
    }

    /** Every sample of {@code base}/metrics as the Prometheus client's parser reads it, by "name{labels}". */
    private static Map<String, Double> scrape(String base, boolean openMetrics) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Fixtures.python(), Fixtures.script("scrape.py").toString(), base + "/metrics"));
        if (openMetrics) {
            cmd.add("openmetrics");
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out;
        try (InputStream in = p.getInputStream()) {
            out = in.readAllBytes();
        }
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            fail("scrape.py failed: " + new String(out, StandardCharsets.UTF_8));
        }
        JsonNode j = JSON.readTree(out);
        String type = j.path("content_type").asText();
        assertTrue(openMetrics ? type.startsWith("application/openmetrics-text") : type.startsWith("text/plain; version=0.0.4"), type);
        Map<String, Double> samples = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : j.path("samples").properties()) {
            samples.put(e.getKey(), e.getValue().asDouble());
        }
        return samples;
    }

    private static Map<String, Double> awaitScrape(String base, Predicate<Map<String, Double>> done) throws Exception {
        long deadline = System.nanoTime() + STEP.toNanos();
        Map<String, Double> m = scrape(base, false);
        while (!done.test(m)) {
            if (System.nanoTime() > deadline) {
                fail("metrics never got there within " + STEP.toSeconds() + " s: " + m);
            }
            m = scrape(base, false);
        }
        return m;
    }

    /** Client connections that send nothing: they wait in the accept queue of a worker that does not accept. */
    private static final class Connections implements AutoCloseable {
        private final List<Socket> open = new ArrayList<>();

        void open(int port) throws IOException {
            Socket c = new Socket();
            open.add(c);
            c.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 10_000);
        }

        int count() {
            return open.size();
        }

        @Override
        public void close() throws IOException {
            for (Socket c : open) {
                c.close();
            }
        }
    }

    /** HTTP/1.1 keep-alive connections, one request at a time each. */
    private static final class KeepAlive implements AutoCloseable {
        private final List<Socket> open = new ArrayList<>();

        void open(int port) throws IOException {
            Socket c = new Socket();
            open.add(c);
            c.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 10_000);
            c.setSoTimeout(30_000);
        }

        /** Sends GET {@code path} on connection {@code i} and returns the body. */
        String request(int i, String path) throws IOException {
            send(i, path);
            return response(i);
        }

        void send(int i, String path) throws IOException {
            OutputStream out = open.get(i).getOutputStream();
            out.write(("GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }

        /** The body of the next answer on connection {@code i}. */
        String response(int i) throws IOException {
            InputStream in = open.get(i).getInputStream();
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                int b = in.read();
                if (b < 0) {
                    throw new IOException("connection closed in the answer's head: " + head);
                }
                head.append((char) b);
            }
            int length = 0;
            for (String line : head.toString().split("\r\n")) {
                if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                    length = Integer.parseInt(line.substring(15).trim());
                }
            }
            return new String(in.readNBytes(length), StandardCharsets.UTF_8);
        }

        @Override
        public void close() throws IOException {
            for (Socket c : open) {
                c.close();
            }
        }
    }
}
