package dev.supervisor.it.reload;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * Load from keep-alive HTTP/1.1 clients, the way a browser or a connection pool talks: each
 * thread keeps one connection and sends its next request on it as soon as the answer is in. An
 * answer with {@code Connection: close} ends the connection, and the client opens a new one for
 * its next request; that is the server draining politely, not a failure. A connection that ends
 * or breaks after a request was sent and before its whole answer came is a failure of its own
 * kind ({@link Failure#CLOSED_MID_REQUEST}): the one a reload must never cause.
 *
 * <p>Bounded by a request count and a deadline, like the harness's fresh-connection Load.
 */
final class KeepAliveLoad {
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    static final Duration READ_TIMEOUT = Duration.ofSeconds(15);
    private static final int MAX_HEAD = 16 * 1024;

    enum Failure {
        /** connect() refused: nothing listened. */
        REFUSED,
        /** the connection ended, or was reset, after a request was sent and before its whole answer. */
        CLOSED_MID_REQUEST,
        /** connect or read timed out. */
        TIMEOUT,
        /** an answer that is not 200, or not HTTP. */
        BAD_ANSWER,
        OTHER
    }

    private final int port;
    private final int threads;
    private final int maxRequests;
    private final Duration deadline;
    private final IntConsumer onGeneration;

    private final AtomicInteger tickets = new AtomicInteger();
    private final AtomicInteger answered = new AtomicInteger();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger closedByServer = new AtomicInteger();
    private final AtomicInteger maxOnOneConnection = new AtomicInteger();
    private final AtomicBoolean stopped = new AtomicBoolean();
    private final Map<Failure, AtomicInteger> failures = new ConcurrentHashMap<>();
    private final List<String> samples = Collections.synchronizedList(new ArrayList<>());
    private final CountDownLatch done;
    private final long startNanos = System.nanoTime();

    /**
     * Starts {@code threads} clients against 127.0.0.1:{@code port}; {@code onGeneration} gets the
     * "generation" of each answer's JSON body, on the client's thread.
     */
    KeepAliveLoad(int port, int threads, int maxRequests, Duration deadline, IntConsumer onGeneration) {
        this.port = port;
        this.threads = threads;
        this.maxRequests = maxRequests;
        this.deadline = deadline;
        this.onGeneration = onGeneration;
        this.done = new CountDownLatch(threads);
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(this::loop, "keep-alive-" + port + "-" + i);
            t.setDaemon(true);
            t.start();
        }
    }

    private void loop() {
        long end = startNanos + deadline.toNanos();
        Conn s = null;
        int onThisConnection = 0;
        try {
            while (!stopped.get() && System.nanoTime() - end < 0 && tickets.getAndIncrement() < maxRequests) {
                if (s == null) {
                    try {
                        s = connect();
                        onThisConnection = 0;
                    } catch (IOException e) {
                        fail(e instanceof ConnectException || String.valueOf(e.getMessage()).contains("refused") ? Failure.REFUSED
                                : e instanceof SocketTimeoutException ? Failure.TIMEOUT : Failure.OTHER, "connect: " + e);
                        continue;
                    }
                }
                Answer a;
                try {
                    a = exchange(s, onThisConnection);
                } catch (SocketTimeoutException e) {
                    fail(Failure.TIMEOUT, "request " + (onThisConnection + 1) + " on its connection: " + e);
                    s = closeQuietly(s);
                    continue;
                } catch (Malformed e) {
                    fail(Failure.BAD_ANSWER, e.getMessage());
                    s = closeQuietly(s);
                    continue;
                } catch (IOException e) {
                    // EOF, reset or broken pipe with a request sent and no whole answer to it
                    fail(Failure.CLOSED_MID_REQUEST, "request " + (onThisConnection + 1) + " on its connection: " + e);
                    s = closeQuietly(s);
                    continue;
                }
                onThisConnection++;
                maxOnOneConnection.accumulateAndGet(onThisConnection, Math::max);
                if (a.status != 200) {
                    fail(Failure.BAD_ANSWER, "status " + a.status + ": " + a.body);
                } else {
                    answered.incrementAndGet();
                    onGeneration.accept(generation(a.body));
                }
                if (a.close) {
                    closedByServer.incrementAndGet();
                    s = closeQuietly(s);
                }
            }
        } finally {
            closeQuietly(s);
            done.countDown();
        }
    }

    private Conn connect() throws IOException {
        Socket s = new Socket();
        try {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), (int) CONNECT_TIMEOUT.toMillis());
            s.setSoTimeout((int) READ_TIMEOUT.toMillis());
            s.setTcpNoDelay(true);
            Conn c = new Conn(s);
            connections.incrementAndGet();
            return c;
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    /** A client's connection, with a buffer that lives as long as it. */
    private static final class Conn {
        final Socket socket;
        final InputStream in;
        final OutputStream out;

        Conn(Socket socket) throws IOException {
            this.socket = socket;
            this.in = new BufferedInputStream(socket.getInputStream());
            this.out = socket.getOutputStream();
        }
    }

    private static final class Answer {
        int status;
        boolean close;
        String body;
    }

    /** Not HTTP, or not the answer a request should get. */
    static final class Malformed extends IOException {
        private static final long serialVersionUID = 1L;

        Malformed(String message) {
            super(message);
        }
    }

    /** One request and its whole answer on {@code s}. */
    private Answer exchange(Conn c, int sentBefore) throws IOException {
        OutputStream out = c.out;
        out.write(("GET /?n=" + sentBefore + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nUser-Agent: supervisor-it-keepalive\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = c.in;
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int last4 = 0;
        while (last4 != 0x0d0a0d0a) { // up to the empty line: \r\n\r\n
            int b = in.read();
            if (b < 0) {
                throw new EOFException(head.size() == 0 ? "connection closed with no answer" : "connection closed in the answer's head");
            }
            head.write(b);
            last4 = (last4 << 8) | b;
            if (head.size() > MAX_HEAD) {
                throw new Malformed("answer head longer than " + MAX_HEAD + " bytes");
            }
        }
        String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
        Answer a = new Answer();
        String[] status = lines[0].split(" ", 3);
        if (!lines[0].startsWith("HTTP/1.") || status.length < 2) {
            throw new Malformed("not an HTTP answer: " + lines[0]);
        }
        try {
            a.status = Integer.parseInt(status[1]);
        } catch (NumberFormatException e) {
            throw new Malformed("bad status line: " + lines[0]);
        }
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) {
                headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
            }
        }
        String length = headers.get("content-length");
        if (length == null) {
            throw new Malformed("keep-alive answer without Content-Length: " + lines[0]);
        }
        byte[] body = new byte[Integer.parseInt(length)];
        for (int off = 0; off < body.length; ) {
            int n = in.read(body, off, body.length - off);
            if (n < 0) {
                throw new EOFException("connection closed after " + off + " of " + body.length + " body bytes");
            }
            off += n;
        }
        a.body = new String(body, StandardCharsets.UTF_8);
        a.close = "close".equalsIgnoreCase(headers.get("connection"));
        return a;
    }

    private static int generation(String body) {
        try {
            return App.JSON.readTree(body).path("generation").asInt(-1);
        } catch (IOException e) {
            return -1;
        }
    }

    private void fail(Failure kind, String what) {
        failures.computeIfAbsent(kind, k -> new AtomicInteger()).incrementAndGet();
        if (samples.size() < 10) {
            samples.add(kind + ": " + what);
        }
    }

    private static Conn closeQuietly(Conn c) {
        if (c != null) {
            try {
                c.socket.close();
            } catch (IOException ignored) {
                // a connection we are done with
            }
        }
        return null;
    }

    int answered() {
        return answered.get();
    }

    /** Stops sending (requests in flight finish) and waits for the clients. */
    Result stop() throws InterruptedException {
        stopped.set(true);
        return await();
    }

    Result await() throws InterruptedException {
        Duration grace = deadline.plus(CONNECT_TIMEOUT).plus(READ_TIMEOUT).plusSeconds(5);
        if (!done.await(grace.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("keep-alive clients still running " + grace.toMillis() + " ms after the start");
        }
        Map<Failure, Integer> f = new EnumMap<>(Failure.class);
        failures.forEach((k, v) -> f.put(k, v.get()));
        Result r = new Result(answered.get(), f, connections.get(), closedByServer.get(), maxOnOneConnection.get(), List.copyOf(samples),
                Duration.ofNanos(System.nanoTime() - startNanos));
        System.err.println("[keep-alive load " + threads + " x GET 127.0.0.1:" + port + "] " + r);
        return r;
    }

    record Result(int answered, Map<Failure, Integer> failures, int connections, int closedByServer, int maxOnOneConnection,
            List<String> samples, Duration took) {
        int failed() {
            return failures.values().stream().mapToInt(Integer::intValue).sum();
        }

        int closedMidRequest() {
            return failures.getOrDefault(Failure.CLOSED_MID_REQUEST, 0);
        }

        @Override
        public String toString() {
            return answered + " answered on " + connections + " connections (" + closedByServer + " closed by the server with "
                    + "Connection: close, up to " + maxOnOneConnection + " requests on one), " + failed() + " failed " + failures + " in "
                    + took.toMillis() + " ms" + (samples.isEmpty() ? "" : ", e.g. " + samples);
        }
    }
}
