package dev.supervisor.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;

class DrainWatchTest {
    @TempDir
    Path dir;

    @Test
    void startReturnsOnceTheSupervisorHasTakenTheWatch() throws Exception {
        try (ServerSocketChannel server = listen()) {
            AtomicBoolean answered = new AtomicBoolean();
            CompletableFuture<SocketChannel> conn = CompletableFuture.supplyAsync(() -> {
                SocketChannel c = accept(server);
                assertEquals(Message.request(Message.WATCH), readLine(c));
                answered.set(true);
                write(c, Message.answer(true).toString());
                return c;
            });
            CountDownLatch drained = new CountDownLatch(1);

            DrainWatch.start(env(), drained::countDown, Duration.ofSeconds(30));

            assertTrue(answered.get(), "start returned before the supervisor answered the watch");
            try (SocketChannel c = conn.get(10, TimeUnit.SECONDS)) {
                assertEquals(1, drained.getCount());
                write(c, "{\"v\":1,\"event\":\"drain\"}");
                assertTrue(drained.await(10, TimeUnit.SECONDS), "the drain message did not start the drain");
            }
        }
    }

    @Test
    void aWatchNotTakenInTimeGoesOnWhileStartReturns() throws Exception {
        try (ServerSocketChannel server = listen()) {
            CountDownLatch drained = new CountDownLatch(1);

            DrainWatch.start(env(), drained::countDown, Duration.ofMillis(50));

            try (SocketChannel c = accept(server)) {
                assertEquals(Message.request(Message.WATCH), readLine(c));
                write(c, Message.answer(true).toString());
                write(c, "{\"v\":1,\"event\":\"drain\"}");
                assertTrue(drained.await(10, TimeUnit.SECONDS), "the watch stopped when start stopped waiting");
            }
        }
    }

    @Test
    void aRefusedWatchLeavesTheDrainToTheSignal() throws Exception {
        try (ServerSocketChannel server = listen()) {
            CompletableFuture<Void> refused = CompletableFuture.runAsync(() -> {
                try (SocketChannel c = accept(server)) {
                    readLine(c);
                    write(c, Message.error("pid 1 is not a current worker of this supervisor").toString());
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            AtomicBoolean drained = new AtomicBoolean();

            DrainWatch.start(env(), () -> drained.set(true), Duration.ofSeconds(30));

            refused.get(10, TimeUnit.SECONDS);
            assertFalse(drained.get());
        }
    }

    private ServerSocketChannel listen() throws IOException {
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        s.bind(UnixDomainSocketAddress.of(dir.resolve("control.sock")));
        return s;
    }

    private Map<String, String> env() {
        return Map.of(Wire.SUPERVISOR_SOCKET, dir.resolve("control.sock").toString(), Wire.SUPERVISOR_GENERATION, "2");
    }

    private static SocketChannel accept(ServerSocketChannel server) {
        try {
            return server.accept();
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }

    private static String readLine(SocketChannel c) {
        StringBuilder line = new StringBuilder();
        ByteBuffer one = ByteBuffer.allocate(1);
        try {
            while (c.read(one.clear()) > 0 && one.get(0) != '\n') {
                line.append((char) one.get(0));
            }
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
        return line.toString();
    }

    private static void write(SocketChannel c, String line) {
        try {
            c.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8)));
        } catch (IOException e) {
            throw new RuntimeException(e);
        }
    }
}
