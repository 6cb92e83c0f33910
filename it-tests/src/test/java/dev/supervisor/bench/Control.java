package dev.supervisor.bench;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.protocol.Message;

/**
 * The supervisor's control socket spoken directly (what {@code supervisor reload} and
 * {@code status} send), so that a reload costs no CLI JVM start and its answer, ok or not, is
 * counted for every reload.
 */
final class Control {
    private Control() {}

    /**
     * Sends {@code cmd} and waits for the answer line; a busy answer (the supervisor had too many
     * clients and did nothing) is tried again after a pause, as the CLI does, within {@code timeout}.
     */
    static JsonNode request(Path socket, String cmd, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long pauseMillis = 10;
        while (true) {
            JsonNode a = once(socket, cmd, deadline);
            if (!a.path(Message.BUSY).asBoolean() || System.nanoTime() + pauseMillis * 1_000_000 >= deadline) {
                return a;
            }
            ReloadRun.park(Duration.ofMillis(pauseMillis));
            pauseMillis = Math.min(500, pauseMillis * 2);
        }
    }

    private static JsonNode once(Path socket, String cmd, long deadline) {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX); Selector sel = Selector.open()) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(ByteBuffer.wrap((Message.request(cmd) + "\n").getBytes(StandardCharsets.UTF_8)));
            ch.configureBlocking(false);
            ch.register(sel, SelectionKey.OP_READ);
            ByteBuffer in = ByteBuffer.allocate(1 << 20);
            while (true) {
                int n = ch.read(in);
                if (n < 0) {
                    throw new BenchException("the supervisor closed the control connection before answering '" + cmd + "'");
                }
                for (int i = in.position() - n; i < in.position(); i++) {
                    if (in.get(i) == '\n') {
                        return Message.parseAnswer(new String(in.array(), 0, i, StandardCharsets.UTF_8));
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new BenchException("no answer to '" + cmd + "' in time");
                }
                sel.select(Math.max(1, left / 1_000_000));
                sel.selectedKeys().clear();
            }
        } catch (IOException e) {
            throw new BenchException("control socket " + socket + ": " + e.getMessage(), e);
        }
    }
}
