package dev.supervisor.demo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * One client connection of the demo: requests in, answered one at a time in order (a pipelined
 * request waits until the previous response is written), each after its {@code ?sleep}. Once
 * draining, the next response says {@code Connection: close}, and a connection with no request in
 * progress is closed after {@link #IDLE_GRACE_NANOS}. Only the worker's loop thread calls it.
 */
final class Connection {
    /** Lets a request already on its way when the drain starts still be answered. */
    static final long IDLE_GRACE_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    private static final int BUFFER_BYTES = 16 * 1024;

    private final SocketChannel channel;
    private final SelectionKey key;
    private final byte[] body;
    /** Bytes read and not yet parsed; write mode. */
    private final ByteBuffer in = ByteBuffer.allocate(BUFFER_BYTES);
    /** The response being written; read mode. */
    private ByteBuffer out = ByteBuffer.allocate(0);
    /** Body bytes of the last request still to be read and dropped. */
    private long skip;
    /** A parsed request waiting for its sleep to end, and when it ends. */
    private HttpRequest pending;
    private long dueNanos;
    private boolean clientDone;
    private boolean closeAfterWrite;
    private boolean draining;
    private long quietSinceNanos;

    Connection(SocketChannel channel, SelectionKey key, byte[] body, long now) {
        this.channel = channel;
        this.key = key;
        this.body = body;
        this.quietSinceNanos = now;
        key.attach(this);
    }

    /** Called when the selector says the channel is ready. */
    void onReady(long now) {
        try {
            if (key.isReadable()) {
                int n = channel.read(in);
                clientDone = n < 0;
                if (n > 0) {
                    quietSinceNanos = now;
                }
            }
            advance(now);
        } catch (IOException e) {
            close(); // the client reset or went away: nothing to answer
        }
    }

    /** Answers a request whose sleep has ended, or closes an idle connection after the grace. */
    void onTime(long now) {
        if (!isOpen()) {
            return;
        }
        if (draining && idle() && now - quietSinceNanos >= IDLE_GRACE_NANOS) {
            close();
            return;
        }
        try {
            advance(now);
        } catch (IOException e) {
            close();
        }
    }

    /** When {@link #onTime} has something to do, or Long.MAX_VALUE. */
    long deadline() {
        if (pending != null) {
            return dueNanos;
        }
        return draining && idle() ? quietSinceNanos + IDLE_GRACE_NANOS : Long.MAX_VALUE;
    }

    /** From now on every response closes; the grace of an idle connection starts now. */
    void drain(long now) {
        draining = true;
        quietSinceNanos = now;
    }

    boolean isOpen() {
        return channel.isOpen();
    }

    void close() {
        key.cancel();
        try {
            channel.close();
        } catch (IOException e) {
            // Closing a socket we are done with: nothing left to do about it.
        }
    }

    private boolean idle() {
        return pending == null && !out.hasRemaining() && in.position() == 0 && skip == 0;
    }

    /** Does everything that can be done now: write, answer, parse the next request. */
    private void advance(long now) throws IOException {
        while (true) {
            if (out.hasRemaining()) {
                channel.write(out);
                if (out.hasRemaining()) {
                    break; // the client reads slowly: wait for OP_WRITE
                }
                quietSinceNanos = now;
            }
            if (closeAfterWrite) {
                close();
                return;
            }
            if (pending != null) {
                if (now - dueNanos < 0) {
                    break;
                }
                out = respond(pending);
                pending = null;
                continue;
            }
            in.flip();
            long dropped = Math.min(skip, in.remaining());
            in.position(in.position() + (int) dropped);
            skip -= dropped;
            try {
                pending = skip == 0 ? HttpRequest.parse(in) : null;
            } catch (HttpRequest.Malformed e) {
                out = error(e.status, e.getMessage());
                closeAfterWrite = true;
            } finally {
                in.compact();
            }
            if (pending == null && !out.hasRemaining()) {
                if (clientDone) {
                    close(); // nothing more will come, and everything was answered
                    return;
                }
                break;
            }
            if (pending != null) {
                skip = pending.bodyLength;
                dueNanos = now + TimeUnit.MILLISECONDS.toNanos(pending.sleepMillis);
            }
        }
        // Reading stops while the buffer is full of pipelined requests, and once we will close.
        key.interestOps((out.hasRemaining() ? SelectionKey.OP_WRITE : 0)
                | (in.hasRemaining() && !closeAfterWrite && !clientDone ? SelectionKey.OP_READ : 0));
    }

    private ByteBuffer respond(HttpRequest request) {
        boolean keepAlive = request.keepAlive && !draining && !clientDone;
        closeAfterWrite = !keepAlive;
        String connection = !keepAlive ? "Connection: close\r\n" : request.http10 ? "Connection: keep-alive\r\n" : "";
        byte[] head = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n"
                + connection + "\r\n").getBytes(StandardCharsets.US_ASCII);
        boolean withBody = !request.method.equals("HEAD");
        ByteBuffer b = ByteBuffer.allocate(head.length + (withBody ? body.length : 0)).put(head);
        if (withBody) {
            b.put(body);
        }
        return b.flip();
    }

    private static ByteBuffer error(int status, String message) {
        byte[] text = (message + "\n").getBytes(StandardCharsets.UTF_8);
        String head = "HTTP/1.1 " + status + " " + reason(status) + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
                + text.length + "\r\nConnection: close\r\n\r\n";
        byte[] h = head.getBytes(StandardCharsets.US_ASCII);
        return ByteBuffer.allocate(h.length + text.length).put(h).put(text).flip();
    }

    private static String reason(int status) {
        switch (status) {
            case 431:
                return "Request Header Fields Too Large";
            case 501:
                return "Not Implemented";
            case 505:
                return "HTTP Version Not Supported";
            default:
                return "Bad Request";
        }
    }
}
