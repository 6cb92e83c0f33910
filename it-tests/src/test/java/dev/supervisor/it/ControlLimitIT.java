package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The control socket serves 64 clients at once. A request on a connection beyond them is answered
 * busy and does nothing, except a worker's {@code listeners} and {@code watch} (a starting
 * generation needs them whoever else is connected); {@code supervisor status} retries a busy
 * answer until a client leaves.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ControlLimitIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration STEP = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    @Test
    void beyond64ClientsARequestIsAnsweredBusyAndTheCliTriesAgainUntilOneLeaves() throws Exception {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").readyNotify()
                .command(Fixtures.worker("http")).start()) {
            s.awaitReady(1);
            List<SocketChannel> held = new ArrayList<>();
            try {
                for (int i = 0; i < 64; i++) {
                    SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(s.control()));
                    held.add(ch);
                    // One request answered: the connection is then kept for a minute, not closed as silent after 10 s.
                    assertTrue(request(ch, "status").path("ok").asBoolean());
                }
                // The server accepts in connection order: one more is the 65th.
                try (SocketChannel over = SocketChannel.open(UnixDomainSocketAddress.of(s.control()))) {
                    JsonNode a = request(over, "status");
                    assertFalse(a.path("ok").asBoolean(), a.toString());
                    assertTrue(a.path("busy").asBoolean(), a.toString());
                    assertEquals("too many control connections (64): try again", a.path("error").asText());
                }
                s.awaitLine("^supervisor: control socket: 64 clients connected: refusing more until one leaves$", STEP);
                try (SocketChannel over = SocketChannel.open(UnixDomainSocketAddress.of(s.control()))) {
                    JsonNode a = request(over, "listeners");
                    assertFalse(a.path("busy").asBoolean(), "a listeners request is not refused as busy: " + a);
                    assertFalse(a.path("ok").asBoolean(), "the test is no worker: " + a);
                }

                Process cli = new ProcessBuilder(Fixtures.supervisorBin().toString(), "status", "--control", s.control().toString()).start();
                CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(cli.getInputStream()));
                BufferedReader err = new BufferedReader(new InputStreamReader(cli.getErrorStream(), StandardCharsets.UTF_8));
                String said = err.readLine(); // the CLI says so at its first busy answer; null if it exits first
                assertTrue(said != null && said.startsWith("supervisor: the supervisor at " + s.control() + " says: too many control connections (64)"
                        + ": try again; trying again for up to "), "the CLI's first line: " + said);
                held.remove(0).close();
                assertTrue(cli.waitFor(STEP.toSeconds(), TimeUnit.SECONDS), "status ended after a client left");
                assertEquals(0, cli.exitValue(), "status once a client left: " + out.get() + " / " + read(cli.getErrorStream()));
                assertTrue(out.get().contains("generation 1"), out.get());
                s.awaitLine("^supervisor: control socket: accepting clients again \\(\\d+ refused meanwhile\\)$", STEP);
            } finally {
                for (SocketChannel ch : held) {
                    ch.close();
                }
            }
            s.signal("TERM");
            assertEquals(0, s.awaitExit(STEP));
        }
    }

    /** One request line on {@code ch}, and its answer line. */
    private static JsonNode request(SocketChannel ch, String cmd) throws IOException {
        ch.write(ByteBuffer.wrap(("{\"v\":1,\"cmd\":\"" + cmd + "\"}\n").getBytes(StandardCharsets.UTF_8)));
        ByteBuffer in = ByteBuffer.allocate(1 << 16);
        while (true) {
            if (ch.read(in) < 0) {
                throw new IOException("closed without an answer to " + cmd);
            }
            for (int i = 0; i < in.position(); i++) {
                if (in.get(i) == '\n') {
                    return JSON.readTree(new String(in.array(), 0, i, StandardCharsets.UTF_8));
                }
            }
        }
    }

    private static String read(java.io.InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return e.toString();
        }
    }
}
