package dev.supervisor.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.AsynchronousCloseException;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.ToIntFunction;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.daemon.Durations;
import dev.supervisor.daemon.IoErrors;
import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;

/** One request, one answer over the control socket; the JDK's AF_UNIX channel only, no native code. */
final class ControlClient {
    private ControlClient() {}

    /** No supervisor answers at the path: exit 2. */
    static final class NoSupervisor extends Exception {
        private static final long serialVersionUID = 1L;

        NoSupervisor(String message) {
            super(message);
        }
    }

    /**
     * A supervisor took the connection but did not answer in time (stopped, hung, or a reload
     * that takes longer): the request may still take effect.
     */
    static final class NoAnswer extends Exception {
        private static final long serialVersionUID = 1L;

        NoAnswer(String message) {
            super(message);
        }
    }

    /**
     * Sends {@code cmd} and decides the exit code, the same way for every command: 2 when no
     * supervisor answers; 1 when it answers {@code "ok": false} (its error and any stderr lines
     * go to stderr), or when a reload got no answer in time (it may still happen); 2 when a
     * status or stop got none; else what {@code onOk} makes of the answer (DESIGN.md, "Exit codes").
     */
    static int exchange(Path path, String cmd, Duration timeout, ToIntFunction<JsonNode> onOk) throws IOException {
        JsonNode answer;
        try {
            answer = callUntilServed(path, cmd, timeout);
        } catch (NoSupervisor e) {
            System.err.println("supervisor: " + e.getMessage());
            return Wire.EXIT_NO_SUPERVISOR;
        } catch (NoAnswer e) {
            if (cmd.equals(Message.RELOAD)) {
                // Not 2: a supervisor is there and may still run the reload.
                System.err.println("supervisor: reload failed: " + e.getMessage() + "; the reload may still happen:"
                        + " 'supervisor status' shows which generation serves");
                return Wire.EXIT_FAILED;
            }
            if (cmd.equals(Message.UPGRADE)) {
                System.err.println("supervisor: upgrade failed: " + e.getMessage() + "; the upgrade may still happen:"
                        + " 'supervisor status' shows the version and upgrades");
                return Wire.EXIT_FAILED;
            }
            if (cmd.equals(Message.STOP)) {
                System.err.println("supervisor: " + e.getMessage() + "; the stop request was sent: the supervisor stops when"
                        + " it reads it (if it resumes); kill -TERM its pid to be sure");
                return Wire.EXIT_NO_SUPERVISOR;
            }
            System.err.println("supervisor: " + e.getMessage());
            return Wire.EXIT_NO_SUPERVISOR;
        }
        if (!answer.path(Message.OK).asBoolean()) {
            System.err.println("supervisor: " + cmd + " failed: " + answer.path(Message.ERROR).asText());
            for (JsonNode line : answer.path("stderr")) {
                System.err.println("  | " + line.asText());
            }
            return Wire.EXIT_FAILED;
        }
        return onOk.applyAsInt(answer);
    }

    /**
     * {@link #call}, again while the supervisor answers busy (too many clients at once: it did
     * nothing), after 10 ms, then twice as long each time up to half a second, within {@code timeout};
     * the last busy answer when that ends. The first busy answer is said on stderr.
     */
    private static JsonNode callUntilServed(Path path, String cmd, Duration timeout) throws NoSupervisor, NoAnswer, IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long pauseMillis = 10;
        while (true) {
            JsonNode answer = call(path, cmd, Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            long left = deadline - System.nanoTime();
            // Another try needs its pause and a round trip within the timeout.
            if (!answer.path(Message.BUSY).asBoolean() || left <= TimeUnit.MILLISECONDS.toNanos(pauseMillis + 100)) {
                return answer;
            }
            if (pauseMillis == 10) {
                System.err.println("supervisor: the supervisor at " + path + " says: " + answer.path(Message.ERROR).asText()
                        + "; trying again for up to " + Durations.format(Duration.ofNanos(left)));
            }
            try {
                Thread.sleep(pauseMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return answer;
            }
            pauseMillis = Math.min(500, pauseMillis * 2);
        }
    }

    private static JsonNode call(Path path, String cmd, Duration timeout) throws NoSupervisor, NoAnswer, IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "timeout");
            t.setDaemon(true);
            return t;
        });
        try (ch) {
            watchdog.schedule(() -> {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // the reader sees the close
                }
            }, timeout.toMillis(), TimeUnit.MILLISECONDS);
            try {
                // connect waits while the socket's backlog is full (a stopped supervisor): the watchdog ends that too
                ch.connect(UnixDomainSocketAddress.of(path));
            } catch (AsynchronousCloseException e) {
                throw new NoSupervisor("no answer from the supervisor at " + path + " within " + Durations.format(timeout)
                        + ": it took no connection (stopped or hung?)");
            } catch (IOException e) {
                throw new NoSupervisor("no supervisor answers at " + path + " (" + reason(e) + ")");
            }
            ch.write(ByteBuffer.wrap((Message.request(cmd) + "\n").getBytes(StandardCharsets.UTF_8)));
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            ByteBuffer buf = ByteBuffer.allocate(8192);
            while (true) {
                buf.clear();
                int n;
                try {
                    n = ch.read(buf);
                } catch (IOException e) {
                    throw new NoAnswer("no answer from the supervisor at " + path + " within " + Durations.format(timeout));
                }
                if (n < 0) {
                    throw new NoAnswer("the supervisor at " + path + " closed the connection without an answer");
                }
                for (int i = 0; i < n; i++) {
                    byte b = buf.get(i);
                    if (b == '\n') {
                        return Message.parseAnswer(line.toString(StandardCharsets.UTF_8));
                    }
                    line.write(b);
                }
            }
        } finally {
            watchdog.shutdownNow();
        }
    }

    /** "Connection refused", "No such file or directory": the JDK's message, without its class name. */
    private static String reason(IOException e) {
        String m = e.getMessage();
        return m == null ? IoErrors.describe(e) : m;
    }
}
