package dev.supervisor.demo;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardSocketOptions;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import dev.supervisor.protocol.Wire;
import dev.supervisor.worker.Activation;

/**
 * The demo worker of {@code supervisor demo}: an HTTP/1.1 server on one thread and one Selector,
 * over the listener the supervisor hands it. Every request gets 200 and
 * {@code {"generation":G,"worker":W,"pid":P}}; {@code ?sleep=MS} delays the answer, so that a
 * test can hold a request in flight across a reload. On drain it stops accepting, answers each
 * connection's next request with {@code Connection: close}, and exits 0 once no connection is
 * left.
 *
 * <p>Usage: {@code DemoWorker [LISTENER_NAME]} (default "http").
 */
public final class DemoWorker {
    private final ServerSocketChannel listener;
    private final byte[] body;
    private final Selector selector;
    private final AtomicBoolean drainRequested = new AtomicBoolean();
    private final List<Connection> connections = new ArrayList<>();
    private boolean draining;

    DemoWorker(ServerSocketChannel listener, byte[] body) throws IOException {
        this.listener = listener;
        this.body = body;
        this.selector = Selector.open();
    }

    public static void main(String[] args) throws IOException {
        String name = args.length > 0 ? args[0] : "http";
        DemoWorker worker;
        try {
            worker = new DemoWorker(Activation.serverSocket(name), body(System.getenv(), ProcessHandle.current().pid()));
        } catch (IllegalStateException e) {
            System.err.println("demo worker: " + e.getMessage());
            System.exit(Wire.EXIT_USAGE);
            return;
        }
        warmUp(body(System.getenv(), ProcessHandle.current().pid()));
        Activation.onDrain(worker::drain);
        // What start-up and the warm-up left live is tenured now, at the starting priority:
        // otherwise the first young collections under load copy it, pauses of several ms.
        System.gc();
        worker.serve(Activation::ready);
        System.exit(Wire.EXIT_OK);
    }

    /** Requests the warm-up sends, half on fresh connections and half on one kept alive. */
    static final int WARM_UP_REQUESTS = 2000;

    /**
     * Serves {@link #WARM_UP_REQUESTS} requests from a client thread over a private loopback
     * listener before READY, so that the first requests after a reload meet compiled code, not a
     * cold JVM: the serving path is this same loop.
     */
    static void warmUp(byte[] body) throws IOException {
        try (ServerSocketChannel own = ServerSocketChannel.open()) {
            own.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            int port = ((InetSocketAddress) own.getLocalAddress()).getPort();
            DemoWorker w = new DemoWorker(own, body);
            Thread client = new Thread(() -> {
                try {
                    byte[] close = "GET / HTTP/1.1\r\nHost: warm-up\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
                    byte[] keep = "GET / HTTP/1.1\r\nHost: warm-up\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
                    for (int i = 0; i < WARM_UP_REQUESTS / 2; i++) {
                        try (Socket c = new Socket(InetAddress.getLoopbackAddress(), port)) {
                            c.getOutputStream().write(close);
                            c.getInputStream().readAllBytes();
                        }
                    }
                    try (Socket c = new Socket(InetAddress.getLoopbackAddress(), port)) {
                        byte[] buf = new byte[4096];
                        for (int i = 0; i < WARM_UP_REQUESTS / 2; i++) {
                            c.getOutputStream().write(keep);
                            if (c.getInputStream().read(buf) < 0) {
                                break;
                            }
                        }
                    }
                } catch (IOException e) {
                    // a warm-up that ends early only leaves the JVM cooler
                } finally {
                    w.drain();
                }
            }, "demo-warm-up");
            w.serve(client::start);
        }
    }

    /** {"generation":G,"worker":W,"pid":P}; G and W are null outside a supervisor. */
    static byte[] body(Map<String, String> env, long pid) {
        return ("{\"generation\":" + number(env, Wire.SUPERVISOR_GENERATION) + ",\"worker\":" + number(env, Wire.SUPERVISOR_WORKER)
                + ",\"pid\":" + pid + "}").getBytes(StandardCharsets.US_ASCII);
    }

    /** Asks the loop to drain; any thread may call it. */
    void drain() {
        drainRequested.set(true);
        selector.wakeup();
    }

    /**
     * Serves until drained and every connection is closed. The listener is made non-blocking,
     * which the supervisor's other workers share: they are this same loop.
     */
    void serve(Runnable onAccepting) throws IOException {
        listener.configureBlocking(false);
        SelectionKey acceptKey = listener.register(selector, SelectionKey.OP_ACCEPT);
        onAccepting.run();
        while (!draining || !connections.isEmpty()) {
            long deadline = Long.MAX_VALUE;
            for (Connection c : connections) {
                deadline = Math.min(deadline, c.deadline());
            }
            long wait = deadline - System.nanoTime();
            if (deadline == Long.MAX_VALUE) {
                selector.select();
            } else if (wait <= 0) {
                selector.selectNow();
            } else {
                // Rounded up, so that the select ends at or after the deadline.
                selector.select(TimeUnit.NANOSECONDS.toMillis(wait + 999_999));
            }
            long now = System.nanoTime();
            if (drainRequested.get() && !draining) {
                draining = true;
                acceptKey.cancel();
                listener.close(); // only this process's copy: the supervisor and the next generation keep theirs
                connections.forEach(c -> c.drain(now));
            }
            for (SelectionKey key : selector.selectedKeys()) {
                if (key == acceptKey) {
                    accept(now);
                } else if (key.isValid()) {
                    ((Connection) key.attachment()).onReady(now);
                }
            }
            selector.selectedKeys().clear();
            for (Connection c : connections) {
                long d = c.deadline();
                if (d != Long.MAX_VALUE && d - now <= 0) {
                    c.onTime(now);
                }
            }
            connections.removeIf(c -> !c.isOpen());
        }
        selector.close();
    }

    private void accept(long now) throws IOException {
        if (draining) {
            return;
        }
        SocketChannel c;
        // null: another worker took the connection first.
        while ((c = listener.accept()) != null) {
            c.configureBlocking(false);
            if (c.supportedOptions().contains(StandardSocketOptions.TCP_NODELAY)) {
                c.setOption(StandardSocketOptions.TCP_NODELAY, true);
            }
            connections.add(new Connection(c, c.register(selector, SelectionKey.OP_READ), body, now));
        }
    }

    private static String number(Map<String, String> env, String name) {
        String value = env.get(name);
        if (value == null) {
            return "null";
        }
        try {
            return Long.toString(Long.parseLong(value.trim()));
        } catch (NumberFormatException e) {
            throw new IllegalStateException(name + "=" + value + ": expected a number");
        }
    }
}
