package dev.supervisor.it.reload;

import java.io.ByteArrayOutputStream;
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

/**
 * A raw client of the control socket: bytes out as given (well-formed or not), answer lines in,
 * each read waiting on a selector with a deadline. One thread uses one connection.
 */
final class ControlConnection implements AutoCloseable {
    private final SocketChannel ch;
    private final Selector selector;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();
    private final ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
    private boolean eof;

    private ControlConnection(SocketChannel ch, Selector selector) {
        this.ch = ch;
        this.selector = selector;
    }

    static ControlConnection open(Path control) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(control));
            ch.configureBlocking(false);
            Selector sel = Selector.open();
            ch.register(sel, SelectionKey.OP_READ);
            return new ControlConnection(ch, sel);
        } catch (IOException e) {
            ch.close();
            throw e;
        }
    }

    /** Writes all of {@code text} (UTF-8), waiting for room as needed, within {@code timeout}. */
    void send(String text, Duration timeout) throws IOException {
        ByteBuffer out = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
        long deadline = System.nanoTime() + timeout.toNanos();
        SelectionKey key = ch.keyFor(selector);
        while (out.hasRemaining()) {
            ch.write(out);
            if (out.hasRemaining()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new IOException("could not write " + out.remaining() + " more bytes within " + timeout.toMillis() + " ms");
                }
                key.interestOps(SelectionKey.OP_WRITE);
                selector.select(Math.max(1, left / 1_000_000));
                selector.selectedKeys().clear();
                key.interestOps(SelectionKey.OP_READ);
            }
        }
    }

    void send(String text) throws IOException {
        send(text, Duration.ofSeconds(10));
    }

    /** The next answer line, or null when the supervisor closed the connection; fails at the deadline. */
    String readLine(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            buf.flip();
            while (buf.hasRemaining()) {
                byte b = buf.get();
                if (b == '\n') {
                    buf.compact();
                    String l = line.toString(StandardCharsets.UTF_8);
                    line.reset();
                    return l;
                }
                line.write(b);
            }
            buf.clear();
            if (eof) {
                return null;
            }
            int n = ch.read(buf);
            if (n < 0) {
                eof = true;
            } else if (n == 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new IOException("no answer line within " + timeout.toMillis() + " ms (have so far: '" + line + "')");
                }
                selector.select(Math.max(1, left / 1_000_000));
                selector.selectedKeys().clear();
            }
        }
    }

    /**
     * Whether the supervisor closed this connection (and sent nothing more): EOF, or ECONNRESET,
     * which is what a Unix stream socket reports when its peer closed with bytes of ours unread.
     */
    boolean closedBySupervisor(Duration timeout) throws IOException {
        try {
            String l = readLine(timeout);
            if (l != null) {
                throw new IOException("expected the connection closed, got the line: " + l);
            }
            return true;
        } catch (java.net.SocketException e) {
            if (String.valueOf(e.getMessage()).contains("reset")) {
                return true;
            }
            throw e;
        }
    }

    /** The next answer, parsed; fails on EOF. */
    JsonNode readAnswer(Duration timeout) throws IOException {
        String l = readLine(timeout);
        if (l == null) {
            throw new IOException("the supervisor closed the control connection with no answer");
        }
        return App.JSON.readTree(l);
    }

    /** One request line of the protocol, its answer parsed. */
    JsonNode call(String cmd, Duration timeout) throws IOException {
        send("{\"v\":1,\"cmd\":\"" + cmd + "\"}\n", timeout);
        return readAnswer(timeout);
    }

    @Override
    public void close() throws IOException {
        try {
            selector.close();
        } finally {
            ch.close();
        }
    }
}
