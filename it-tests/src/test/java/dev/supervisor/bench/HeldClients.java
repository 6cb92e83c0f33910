package dev.supervisor.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Many connections, each with one slow request in flight ({@code ?sleep=MS} on the demo worker),
 * on one thread and one Selector: what a draining generation holds while the new one serves.
 * Connects at most {@link #MAX_CONNECTING} at a time, so the accept queue never overflows.
 */
final class HeldClients implements AutoCloseable {
    static final int MAX_CONNECTING = 200;

    private Selector selector;
    private Thread thread;
    private volatile boolean closing;
    private CountDownLatch sent;
    private CountDownLatch finished;
    private int answeredGen1;
    private int withClose;
    private int failed;

    private static final class Conn {
        final ByteBuffer out;
        final ByteBuffer in = ByteBuffer.allocate(1024);
        boolean connected;

        Conn(byte[] request) {
            out = ByteBuffer.wrap(request);
        }
    }

    /** Opens {@code count} connections and sends each request; returns once all are sent. */
    void open(InetSocketAddress addr, int count, String path) throws IOException, InterruptedException {
        selector = Selector.open();
        sent = new CountDownLatch(count);
        finished = new CountDownLatch(count);
        byte[] request = ("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        thread = new Thread(() -> loop(addr, count, request), "held-clients");
        thread.setDaemon(true);
        thread.start();
        if (!sent.await(120, TimeUnit.SECONDS)) {
            throw new BenchException("could not open " + count + " connections in 120 s (" + sent.getCount() + " left)");
        }
    }

    private void loop(InetSocketAddress addr, int count, byte[] request) {
        int started = 0;
        int connecting = 0;
        try {
            while (!closing && finished.getCount() > 0) {
                while (started < count && connecting < MAX_CONNECTING) {
                    SocketChannel ch = SocketChannel.open();
                    ch.configureBlocking(false);
                    Conn c = new Conn(request);
                    started++;
                    if (ch.connect(addr)) {
                        c.connected = true;
                        ch.register(selector, SelectionKey.OP_WRITE, c);
                    } else {
                        connecting++;
                        ch.register(selector, SelectionKey.OP_CONNECT, c);
                    }
                }
                selector.select(100);
                for (SelectionKey k : selector.selectedKeys()) {
                    SocketChannel ch = (SocketChannel) k.channel();
                    Conn c = (Conn) k.attachment();
                    try {
                        if (!c.connected && k.isConnectable()) {
                            if (ch.finishConnect()) {
                                c.connected = true;
                                connecting--;
                                k.interestOps(SelectionKey.OP_WRITE);
                            }
                        } else if (k.isWritable()) {
                            ch.write(c.out);
                            if (!c.out.hasRemaining()) {
                                sent.countDown();
                                k.interestOps(SelectionKey.OP_READ);
                            }
                        } else if (k.isReadable()) {
                            int n = ch.read(c.in);
                            int r = complete(c);
                            if (r != 0 || n < 0 || !c.in.hasRemaining()) {
                                if (r == 0) {
                                    failed++;
                                }
                                finished.countDown();
                                k.cancel();
                                ch.close();
                            }
                        }
                    } catch (IOException e) {
                        if (!c.connected) {
                            connecting--;
                        }
                        if (c.out.hasRemaining()) {
                            sent.countDown();
                        }
                        failed++;
                        finished.countDown();
                        k.cancel();
                        try {
                            ch.close();
                        } catch (IOException ignored) {
                            // gone
                        }
                    }
                }
                selector.selectedKeys().clear();
            }
        } catch (IOException e) {
            throw new BenchException("held clients: " + e.getMessage(), e);
        }
    }

    /** 0 = incomplete; 1 = a complete response (counted). */
    private int complete(Conn c) {
        String text = new String(c.in.array(), 0, c.in.position(), StandardCharsets.ISO_8859_1);
        int end = text.indexOf("\r\n\r\n");
        if (end < 0) {
            return 0;
        }
        String head = text.substring(0, end).toLowerCase(Locale.ROOT);
        int cl = head.indexOf("content-length:");
        int len = cl < 0 ? 0 : LoadGen.number(head, cl + 15);
        if (text.length() < end + 4 + len) {
            return 0;
        }
        String body = text.substring(end + 4, end + 4 + len);
        if (text.startsWith("HTTP/1.1 200") && body.contains("\"generation\":1,")) {
            answeredGen1++;
        } else {
            failed++;
        }
        if (head.contains("\r\nconnection: close")) {
            withClose++;
        }
        return 1;
    }

    /** Waits for every answer: {answered by generation 1, with Connection: close, failed or not answered}. */
    int[] await(Duration timeout) throws InterruptedException {
        boolean all = finished.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        closing = true;
        thread.join(5000);
        return new int[] {answeredGen1, withClose, failed + (all ? 0 : (int) finished.getCount())};
    }

    @Override
    public void close() throws IOException {
        closing = true;
        if (selector != null) {
            selector.wakeup();
            if (thread != null) {
                try {
                    thread.join(5000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            for (SelectionKey k : selector.keys()) {
                k.channel().close();
            }
            selector.close();
        }
    }
}
