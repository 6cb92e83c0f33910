package dev.supervisor.it.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.supervisor.it.Http;
import dev.supervisor.it.SupervisorProcess;

/**
 * 1,000 malformed or oversized control lines, twice, a client that connects and never sends and
 * one that sends half a line: every line gets its error answer, the workers keep serving, status
 * stays fast, the idle clients are closed after the limit (10 s), and the supervisor's memory and fds stay flat.
 *
 * <p>The bound: the second round of 1,000 lines may add at most 10 MiB of resident memory to
 * what the first round left. The first round warms the JIT and touches the young generation
 * (the launcher caps the heap at 64 MiB); after that a round allocates only garbage of the same
 * size again. Were connections or their buffers kept, the second round would keep another ~8 MiB
 * of buffers (100 full 64 KiB ones and 30 more) and 130 fds; the fd count must be back where it was.
 */
class ControlSocketAbuseIT {
    private static final int SILENT_CLOSED_WITHIN_S = 15;
    private static final long RSS_BOUND_KIB = 10 * 1024;
    private static final Duration STATUS_FAST = Duration.ofSeconds(1);

    @TempDir
    Path tmp;

    @Test
    void malformedAndOversizedLinesAndASilentClientLeaveItServing() throws Exception {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").readyNotify().command(Sec.worker("http"))
                .start()) {
            s.awaitReady(1);
            int port = s.port("web");
            long pid = s.pid();
            assertFast(s.control());
            int fdsAtStart = fds(pid);
            long atStart = Sec.rssKib(pid);

            Idle silent = Idle.connect(s.control(), "");
            Idle half = Idle.connect(s.control(), "{\"v\":1,\"cmd\":");

            attack(s.control(), port);
            long afterFirst = Sec.rssKib(pid);
            attack(s.control(), port);
            long afterSecond = Sec.rssKib(pid);
            System.err.println("supervisor VmRSS: " + atStart + " KiB at start, " + afterFirst + " KiB after 1,000 bad lines, " + afterSecond + " KiB after 1,000 more");
            assertTrue(afterSecond - afterFirst < RSS_BOUND_KIB,
                    "VmRSS grew by " + (afterSecond - afterFirst) + " KiB over the second 1,000 lines (bound " + RSS_BOUND_KIB + " KiB)");
            assertFast(s.control());
            assertEquals(200, Http.get(port, "/").status());

            silent.assertClosedAfterIdleLimit("a client that never sends");
            half.assertClosedAfterIdleLimit("a client that sent half a line");
            Sec.awaitTrue("the supervisor's fds back to " + fdsAtStart + " (now " + fds(pid) + ")", Duration.ofSeconds(5),
                    () -> fds(pid) <= fdsAtStart);
            assertEquals(200, Http.get(port, "/").status());
            assertTrue(s.handle().isAlive());
        }
    }

    /** A client that sends {@code text} (no newline) and then nothing; it reads until the supervisor closes it. */
    private record Idle(SocketChannel ch, long connectedNanos, CompletableFuture<Integer> end) {
        static Idle connect(Path control, String text) throws IOException {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            ch.connect(UnixDomainSocketAddress.of(control));
            ch.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
            long t0 = System.nanoTime();
            CompletableFuture<Integer> end = CompletableFuture.supplyAsync(() -> {
                try {
                    return ch.read(ByteBuffer.allocate(4096)); // closed without a word: -1
                } catch (IOException e) {
                    return -2;
                }
            });
            return new Idle(ch, t0, end);
        }

        void assertClosedAfterIdleLimit(String who) throws Exception {
            assertEquals(-1, end.get(SILENT_CLOSED_WITHIN_S, TimeUnit.SECONDS), who + " was closed by the supervisor");
            long heldMs = (System.nanoTime() - connectedNanos) / 1_000_000;
            assertTrue(heldMs >= 9_000, who + " was closed after " + heldMs + " ms, before its 10 s");
            ch.close();
        }
    }

    /** 900 malformed lines over 30 connections, 100 oversized lines on a connection each; HTTP in between. */
    private static void attack(Path control, int port) throws IOException {
        List<String> bad = List.of("{", "not json", "{\"v\":2,\"cmd\":\"status\"}", "{\"v\":1,\"cmd\":\"rm -rf /\"}", "{\"v\":1}",
                "{\"cmd\":\"status\"}", "\u0000\u0001\u0002", "{\"v\":1,\"cmd\":\"status\"", "1e999999", "[]", "null",
                "{\"v\":\"1\",\"cmd\":\"stop\"}", "{\"v\":1,\"cmd\":[\"stop\"]}", "\"" + "a".repeat(30_000),
                "[".repeat(60_000), "{\"v\":1,\"cmd\":\"status\",\"cmd\":\"stop\"} ] ] ]", "\u00ff\u00fe\u00fd", "{\"v\":99999999999999999999}",
                "{\"v\":1,\"cmd\":\"listeners\",\"v\":2}", "{".repeat(10) + "}".repeat(10), "-", "tru", "{\"v\":1.0,\"cmd\":\"stop\"}",
                "{\"\":\"\"}", "\t", "{\"v\":1,\"cmd\":\"\\u0000\"}", "{\"v\":-1}", "{\"v\":1,\"cmd\":null}", "0", "{}");
        assertEquals(30, bad.size());
        for (int c = 0; c < 30; c++) {
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(control));
                StringBuilder lines = new StringBuilder();
                for (String b : bad) {
                    lines.append(b).append('\n');
                }
                ch.write(ByteBuffer.wrap(lines.toString().getBytes(StandardCharsets.UTF_8)));
                for (String b : bad) {
                    String answer = Sec.readLine(ch);
                    assertTrue(answer != null && answer.startsWith("{\"v\":1,\"ok\":false,\"error\":\""),
                            "answer to " + abbreviate(b) + ": " + answer);
                }
            }
            if (c % 10 == 0) {
                assertEquals(200, Http.get(port, "/").status());
            }
        }
        byte[] oversized = new byte[70 * 1024];
        java.util.Arrays.fill(oversized, (byte) 'x');
        for (int c = 0; c < 100; c++) {
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(control));
                ByteBuffer buf = ByteBuffer.wrap(oversized);
                try {
                    while (buf.hasRemaining()) {
                        ch.write(buf);
                    }
                } catch (IOException closedMidway) {
                    // the supervisor answered at 64 KiB and closed: the rest had nowhere to go
                }
                assertEquals("{\"v\":1,\"ok\":false,\"error\":\"request longer than 65536 bytes\"}", Sec.readLine(ch));
                assertEquals(null, Sec.readLine(ch), "closed after the answer");
            }
        }
    }

    private static void assertFast(Path control) throws IOException {
        for (int i = 0; i < 5; i++) {
            long t0 = System.nanoTime();
            String answer = Sec.request(control, "{\"v\":1,\"cmd\":\"status\"}");
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(answer.startsWith("{\"v\":1,\"ok\":true,\"status\":"), answer);
            assertTrue(ms < STATUS_FAST.toMillis(), "status took " + ms + " ms");
        }
    }

    private static int fds(long pid) {
        try (Stream<Path> s = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return (int) s.count();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "... (" + s.length() + " chars)" : s;
    }
}
