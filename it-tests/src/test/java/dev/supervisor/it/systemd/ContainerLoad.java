package dev.supervisor.it.systemd;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Bounded HTTP load from inside a container's network namespace (nothing else reaches its
 * loopback): the fixture {@code load_client.py}, bound into the container, run by its python3.
 * Fresh connections, {@code GET /} of the demo worker, answers counted by generation and
 * failures by kind; it ends at its request count or deadline, or when {@link #finish} closes its
 * stdin.
 */
final class ContainerLoad {
    /** What the client counted. */
    record Result(int answered, int sent, Map<String, Integer> failures, Map<String, Integer> generations, String samples) {
        int failed() {
            return failures.values().stream().mapToInt(Integer::intValue).sum();
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<Map<String, Integer>> COUNTS = new TypeReference<>() {};

    private final Process process;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

    private ContainerLoad(Process process) {
        this.process = process;
        Thread reader = new Thread(this::read, "container-load");
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Starts {@code threads} clients against 127.0.0.1:{@code port} in {@code container}, at most
     * {@code requests} requests within {@code deadline}; returns once the first one was answered.
     */
    static ContainerLoad start(SystemdContainer container, String script, int port, int threads, int requests, Duration deadline)
            throws IOException, InterruptedException {
        ContainerLoad load = new ContainerLoad(container.start("python3", "-u", script, Integer.toString(port), Integer.toString(threads),
                Integer.toString(requests), Long.toString(deadline.toSeconds())));
        String first = load.next(Duration.ofSeconds(60));
        if (!"STARTED".equals(first)) {
            fail("the load client did not get a first answer: " + first);
        }
        return load;
    }

    /** Stops sending (closes the client's stdin) and returns the counts. */
    Result finish(Duration timeout) throws IOException, InterruptedException {
        process.getOutputStream().close();
        String line = next(timeout);
        if (line == null || !line.startsWith("RESULT ")) {
            fail("the load client ended without a result: " + line);
        }
        process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        JsonNode r = JSON.readTree(line.substring("RESULT ".length()));
        return new Result(r.path("answered").asInt(), r.path("sent").asInt(), JSON.convertValue(r.path("failures"), COUNTS),
                JSON.convertValue(r.path("generations"), COUNTS), r.path("samples").toString());
    }

    /** The next line of the client's stdout, or null at its end or the timeout. */
    private String next(Duration timeout) throws InterruptedException {
        String line = lines.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
        return line == null || line.equals(EOF) ? null : line;
    }

    private static final String EOF = "\0EOF";

    private void read() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                lines.add(line);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            lines.add(EOF);
        }
    }
}
