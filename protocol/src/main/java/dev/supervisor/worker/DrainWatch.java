package dev.supervisor.worker;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;

/**
 * The drain as a control-socket message: a worker of a supervisor keeps one connection open with
 * {@code {"cmd":"watch"}} and drains when {@code {"event":"drain"}} arrives. Works whatever the
 * drain signal is, and also when the signal cannot reach the JVM's handler.
 */
final class DrainWatch {
    /** How long {@link #start} waits for the supervisor to take the watch. */
    static final Duration TAKEN_WITHIN = Duration.ofSeconds(2);

    private DrainWatch() {}

    /**
     * Starts watching on a daemon thread when this process is a supervisor's worker; otherwise
     * nothing. Returns once the supervisor has answered the watch, the watch has failed, or
     * {@code takenWithin} has passed (the thread goes on watching): so a worker that says ready
     * after this hears a drain that comes right after, and what the watch costs (the JSON
     * library's classes) is paid before ready, not as the worker takes its load.
     */
    static void start(Map<String, String> env, Runnable onDrain, Duration takenWithin) {
        String path = env.get(Wire.SUPERVISOR_SOCKET);
        if (path == null || path.isEmpty() || env.get(Wire.SUPERVISOR_GENERATION) == null) {
            return;
        }
        CountDownLatch taken = new CountDownLatch(1);
        Thread t = new Thread(() -> {
            try {
                watch(path, onDrain, taken);
            } finally {
                taken.countDown();
            }
        }, "supervisor-drain-watch");
        t.setDaemon(true);
        t.start();
        try {
            taken.await(takenWithin.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void watch(String path, Runnable onDrain, CountDownLatch taken) {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            ch.write(ByteBuffer.wrap((Message.request(Message.WATCH) + "\n").getBytes(StandardCharsets.UTF_8)));
            StringBuilder line = new StringBuilder();
            ByteBuffer buf = ByteBuffer.allocate(1024);
            while (ch.read(buf.clear()) > 0) {
                for (int i = 0; i < buf.position(); i++) {
                    char ch1 = (char) buf.get(i);
                    if (ch1 != '\n') {
                        line.append(ch1);
                        continue;
                    }
                    JsonNode n = Message.parseAnswer(line.toString());
                    line.setLength(0);
                    if (Message.DRAIN.equals(n.path(Message.EVENT).asText()) ) {
                        onDrain.run();
                        return;
                    }
                    if (!n.path(Message.OK).asBoolean(true)) {
                        return; // not a current worker (say, a child of one): the signal is enough
                    }
                    taken.countDown();
                }
            }
        } catch (IOException | RuntimeException e) {
            // no supervisor to watch (it went away, or this is not its worker): the drain signal remains
        }
    }
}
