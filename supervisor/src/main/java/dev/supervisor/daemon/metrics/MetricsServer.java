package dev.supervisor.daemon.metrics;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import dev.supervisor.daemon.Address;
import dev.supervisor.daemon.Connections;
import dev.supervisor.daemon.Snapshot;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.OpenMetricsTextFormatWriter;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/**
 * {@code --metrics ADDR}: the JDK's HTTP server on ADDR, answering {@code GET /metrics}
 * (Prometheus text, or OpenMetrics when the scraper accepts it), {@code /ready} (200 while a
 * generation is ready and serving, else 503) and {@code /live} (200 while the supervisor's loop
 * answers). One thread serves them in turn; each request asks the loop for a {@link Snapshot}
 * and reads /proc on this thread, never the loop's. Only {@code run} with {@code --metrics}
 * loads this class.
 */
public final class MetricsServer implements AutoCloseable {
    /** A loop that does not answer by then is not live, and the scrape fails with 503. */
    static final Duration LOOP_DEADLINE = Duration.ofSeconds(5);

    private final HttpServer http;
    private final String bound;

    private MetricsServer(HttpServer http) {
        this.http = http;
        InetSocketAddress a = http.getAddress();
        String host = a.getAddress().getHostAddress();
        this.bound = "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    /**
     * Binds {@code address} (a TCP listener address form).
     *
     * @throws IllegalArgumentException for a UDP or Unix address
     * @throws IOException when it cannot be bound (in use, permission)
     */
    public static MetricsServer bind(Address address) throws IOException {
        if (address.kind() != Address.Kind.TCP) {
            throw new IllegalArgumentException("--metrics " + address + ": expected a TCP address (HOST:PORT, :PORT, [V6ADDR]:PORT)");
        }
        limit("maxConnections", "16");
        limit("maxReqHeaders", "64");
        limit("maxReqHeaderSize", "16384");
        limit("maxReqTime", "10");
        limit("maxRspTime", "10");
        limit("idleInterval", "10");
        InetSocketAddress sa = address.host() == null ? new InetSocketAddress(address.port()) : new InetSocketAddress(address.host(), address.port());
        if (sa.isUnresolved()) {
            throw new IllegalArgumentException("--metrics " + address + ": cannot resolve host '" + address.host() + "'");
        }
        return new MetricsServer(HttpServer.create(sa, 16));
    }

    /**
     * Loads what {@link #start} and a scrape load, without binding anything: an upgrade's
     * pre-flight, so that a broken Prometheus client fails the check, not the new image.
     */
    public static void checkLoadable(String version) throws IOException {
        // A scrape of a supervisor with one of everything, written in both formats.
        Snapshot.Histogram h = new Snapshot.Histogram(new double[] {1}, new long[] {1, 0}, 0.5);
        Snapshot s = new Snapshot(1, true, Map.of("ready", 1), Map.of("ready", 1), 0, new Snapshot.Reloads(1, 0, true, 0, h, h),
                List.of(new Snapshot.ListenerQueue("check", 0, 1)), new Connections.Census(List.of(), Map.of(1, List.of())));
        PrometheusRegistry registry = new PrometheusRegistry();
        registry.register(new SupervisorCollector(version, () -> new SupervisorCollector.Scrape(s, Map.of(1, 0), ProcessStats.read())));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrometheusTextFormatWriter.create().write(out, registry.scrape());
        OpenMetricsTextFormatWriter.create().write(out, registry.scrape());
        HttpServer.class.getName();
    }

    /** A client that opens many connections, sends slowly or reads slowly is cut off; a setting the user made stays. */
    private static void limit(String name, String value) {
        String property = "sun.net.httpserver." + name;
        if (System.getProperty(property) == null) {
            System.setProperty(property, value);
        }
    }

    /** "http://127.0.0.1:9100", with the port the kernel chose for port 0. */
    public String bound() {
        return bound;
    }

    /** Serves from now on; {@code supervisor} is asked for a snapshot on every request. */
    public void start(Consumer<Consumer<Snapshot>> supervisor, String version) {
        PrometheusRegistry registry = new PrometheusRegistry();
        registry.register(new SupervisorCollector(version, () -> {
            Snapshot s = ask(supervisor);
            return new SupervisorCollector.Scrape(s, Connections.count(s.census()), ProcessStats.read());
        }));
        PrometheusTextFormatWriter text = PrometheusTextFormatWriter.create();
        OpenMetricsTextFormatWriter openMetrics = OpenMetricsTextFormatWriter.create();
        http.createContext("/", ex -> {
            try (ex) {
                if (!ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("HEAD")) {
                    ex.getResponseHeaders().set("Allow", "GET, HEAD");
                    send(ex, 405, "text/plain; charset=utf-8", "only GET\n".getBytes(StandardCharsets.UTF_8));
                    return;
                }
                switch (ex.getRequestURI().getPath()) {
                    case "/metrics" -> {
                        String accept = ex.getRequestHeaders().getFirst("Accept");
                        ExpositionFormatWriter w = accept != null && openMetrics.accepts(accept) ? openMetrics : text;
                        ByteArrayOutputStream body = new ByteArrayOutputStream(8192);
                        try {
                            w.write(body, registry.scrape());
                        } catch (LoopTimeout e) {
                            send(ex, 503, "text/plain; charset=utf-8", (e.getMessage() + "\n").getBytes(StandardCharsets.UTF_8));
                            return;
                        }
                        send(ex, 200, w.getContentType(), body.toByteArray());
                    }
                    case "/ready" -> {
                        boolean ready;
                        try {
                            ready = ask(supervisor).ready();
                        } catch (LoopTimeout e) {
                            ready = false;
                        }
                        send(ex, ready ? 200 : 503, "text/plain; charset=utf-8", (ready ? "ready\n" : "not ready\n").getBytes(StandardCharsets.UTF_8));
                    }
                    case "/live" -> {
                        boolean live;
                        try {
                            ask(supervisor);
                            live = true;
                        } catch (LoopTimeout e) {
                            live = false;
                        }
                        send(ex, live ? 200 : 503, "text/plain; charset=utf-8", (live ? "live\n" : "the supervisor's loop does not answer\n")
                                .getBytes(StandardCharsets.UTF_8));
                    }
                    default -> send(ex, 404, "text/plain; charset=utf-8", "not found: try /metrics, /ready or /live\n".getBytes(StandardCharsets.UTF_8));
                }
            }
        });
        http.start();
    }

    private static void send(HttpExchange ex, int status, String contentType, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", contentType);
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(status, head ? -1 : body.length == 0 ? -1 : body.length);
        if (!head) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    /** The loop's snapshot, or {@link LoopTimeout} when it does not answer within {@link #LOOP_DEADLINE}. */
    private static Snapshot ask(Consumer<Consumer<Snapshot>> supervisor) {
        CompletableFuture<Snapshot> answer = new CompletableFuture<>();
        supervisor.accept(answer::complete);
        try {
            return answer.get(LOOP_DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            throw new LoopTimeout();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LoopTimeout();
        }
    }

    /** The supervisor's loop did not answer in time. */
    private static final class LoopTimeout extends RuntimeException {
        LoopTimeout() {
            super("the supervisor's loop did not answer within " + LOOP_DEADLINE.toSeconds() + " s");
        }
    }

    @Override
    public void close() {
        http.stop(0);
    }
}
