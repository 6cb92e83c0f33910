package dev.supervisor.bench;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;

/**
 * The benchmark's own HTTP/1.1 load generator, for counting what happens to each request across
 * reloads (wrk measures throughput; it cannot say which request failed how). Each client is a
 * thread with one non-blocking socket and its own Selector, sending at a fixed rate. A request's
 * latency runs from the moment it was due, not from when the client got round to sending it: a
 * client held up by a stall sends the requests it owes right after, and each of them carries the
 * stall (no coordinated omission, as in wrk2). Loopback only, bounded in time.
 *
 * <p>Outcomes, one per request:
 * <ul>
 * <li>{@code refused}: connect() was refused (nothing listened, or the accept queue overflowed);
 * <li>{@code reset}: the connection was reset (RST) while the request was in progress;
 * <li>{@code closed}: the server closed the connection under the client mid-request: EOF before a
 *     complete response, or on a reused keep-alive connection a FIN or RST before the first byte of
 *     the response (the server closed an idle keep-alive connection while the request was on its way);
 * <li>{@code timeout}: no complete response within the timeout;
 * <li>{@code http_error}: a 5xx, or a response that does not parse;
 * <li>{@code ok}: a complete 2xx-4xx response.
 * </ul>
 * A keep-alive connection found closed by the server before a request is sent (it said
 * {@code Connection: close}, or closed while idle and the FIN had arrived) is reconnected: that is
 * what every HTTP client does, and it is counted ({@link #staleReconnects}), not failed.
 */
final class LoadGen implements AutoCloseable {
    enum Mode { FRESH, KEEPALIVE }

    enum Outcome { OK, REFUSED, RESET, CLOSED, TIMEOUT, HTTP_ERROR }

    static final Outcome[] OUTCOMES = Outcome.values();

    /** What to run. */
    static final class Spec {
        InetSocketAddress target;
        int freshClients = 8;
        int keepAliveClients = 8;
        /** Requests per second per client. */
        double rate = 100;
        Duration timeout = Duration.ofSeconds(5);
        Duration maxDuration = Duration.ofMinutes(30);
        String path = "/";
    }

    private final Spec spec;
    private final List<Client> clients = new ArrayList<>();
    private volatile boolean stopping;
    private final long endNanos;
    /** Live counts by outcome, both modes. */
    final AtomicLongArray counts = new AtomicLongArray(OUTCOMES.length);
    final AtomicLongArray staleReconnects = new AtomicLongArray(2);
    final AtomicLongArray closeResponses = new AtomicLongArray(2);
    /**
     * Keep-alive requests that failed "closed" on a reused connection before any response byte,
     * retried once on a new connection (as RFC 9112 9.3.1 lets a client do for an idempotent
     * request): {answered, failed again}. The first attempt still counts as failed.
     */
    final AtomicLongArray retried = new AtomicLongArray(2);

    LoadGen(Spec spec) {
        if (!spec.target.getAddress().isLoopbackAddress()) {
            throw new IllegalArgumentException("the load generator only talks to loopback addresses, not " + spec.target);
        }
        this.spec = spec;
        this.endNanos = Clock.nanos() + spec.maxDuration.toNanos();
        int total = spec.freshClients + spec.keepAliveClients;
        for (int i = 0; i < total; i++) {
            Mode m = i < spec.freshClients ? Mode.FRESH : Mode.KEEPALIVE;
            clients.add(new Client(i, m, (long) (1e9 / spec.rate * i / total)));
        }
    }

    static LoadGen start(Spec spec) {
        LoadGen g = new LoadGen(spec);
        g.clients.forEach(c -> c.thread.start());
        return g;
    }

    long count(Outcome o) {
        return counts.get(o.ordinal());
    }

    long failures() {
        long f = 0;
        for (Outcome o : OUTCOMES) {
            if (o != Outcome.OK) {
                f += counts.get(o.ordinal());
            }
        }
        return f;
    }

    long total() {
        long t = 0;
        for (int i = 0; i < OUTCOMES.length; i++) {
            t += counts.get(i);
        }
        return t;
    }

    /** Stops every client after its current request and returns every request's record, by start time. */
    Samples stop() {
        stopping = true;
        for (Client c : clients) {
            LockSupport.unpark(c.thread);
        }
        for (Client c : clients) {
            try {
                c.thread.join(spec.timeout.toMillis() + 5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return Samples.merge(clients.stream().map(c -> c.samples).toList());
    }

    @Override
    public void close() {
        if (!stopping) {
            stop();
        }
    }

    /** One paced client: one request at a time. */
    private final class Client implements Runnable {
        final Mode mode;
        final long offsetNanos;
        final Thread thread;
        final Samples samples = new Samples(1 << 14);
        private final byte[] request;
        private final ByteBuffer in = ByteBuffer.allocate(64 * 1024);
        private Selector selector;
        private SocketChannel channel;
        private SelectionKey key;
        // results of the current request
        private int gen;
        private int pid;

        Client(int index, Mode mode, long offsetNanos) {
            this.mode = mode;
            this.offsetNanos = offsetNanos;
            String r = "GET " + spec.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (mode == Mode.FRESH ? "Connection: close\r\n" : "") + "\r\n";
            this.request = r.getBytes(StandardCharsets.US_ASCII);
            this.thread = new Thread(this, "load-" + mode.name().toLowerCase() + "-" + index);
            thread.setDaemon(true);
        }

        @Override
        public void run() {
            try {
                selector = Selector.open();
            } catch (IOException e) {
                throw new BenchException("cannot open a selector", e);
            }
            long interval = (long) (1e9 / spec.rate);
            long next = Clock.nanos() + offsetNanos;
            try {
                while (!stopping) {
                    long now = Clock.nanos();
                    while (!stopping && next - now > 0) {
                        LockSupport.parkNanos(next - now);
                        now = Clock.nanos();
                    }
                    if (stopping || now > endNanos) {
                        break;
                    }
                    long due = next;
                    next += interval;
                    gen = -1;
                    pid = -1;
                    long start = Clock.nanos();
                    Outcome o = mode == Mode.FRESH ? fresh(start) : keepAlive(start);
                    long lat = Clock.nanos() - due;
                    counts.incrementAndGet(o.ordinal());
                    samples.add(due, lat, o, mode, gen, pid);
                }
            } finally {
                closeChannel();
                try {
                    selector.close();
                } catch (IOException ignored) {
                    // nothing to do
                }
            }
        }

        private Outcome fresh(long start) {
            Outcome c = connect(start);
            if (c != null) {
                return c;
            }
            Outcome o = exchange(start, false);
            closeChannel();
            return o;
        }

        private Outcome keepAlive(long start) {
            boolean reused = channel != null;
            if (reused && !stillOpen()) {
                closeChannel();
                staleReconnects.incrementAndGet(1);
                reused = false;
            }
            if (!reused) {
                Outcome c = connect(start);
                if (c != null) {
                    return c;
                }
            }
            Outcome o = exchange(start, reused);
            if (o != Outcome.OK) {
                closeChannel();
                if (o == Outcome.CLOSED && reused && gotLast == 0) {
                    long again = Clock.nanos();
                    Outcome r = connect(again);
                    if (r == null) {
                        r = exchange(again, false);
                        if (r != Outcome.OK) {
                            closeChannel();
                        }
                    }
                    retried.incrementAndGet(r == Outcome.OK ? 0 : 1);
                }
            }
            return o;
        }

        /** A non-blocking read on an idle keep-alive connection: EOF or RST means the server closed it. */
        private boolean stillOpen() {
            in.clear();
            try {
                return channel.read(in) == 0;
            } catch (IOException e) {
                return false;
            }
        }

        /** Connects; null when connected, else the outcome of the failed request. */
        private Outcome connect(long start) {
            try {
                channel = SocketChannel.open();
                channel.configureBlocking(false);
                channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                key = channel.register(selector, 0);
                if (!channel.connect(spec.target)) {
                    key.interestOps(SelectionKey.OP_CONNECT);
                    while (!channel.finishConnect()) {
                        if (!await(start)) {
                            closeChannel();
                            return Outcome.TIMEOUT;
                        }
                    }
                }
                return null;
            } catch (ConnectException e) {
                closeChannel();
                return Outcome.REFUSED;
            } catch (IOException e) {
                closeChannel();
                return isReset(e) ? Outcome.RESET : Outcome.REFUSED;
            }
        }

        /** Response bytes the last {@link #exchange} received. */
        private int gotLast;

        /** Sends the request and reads one response. */
        private Outcome exchange(long start, boolean reused) {
            gotLast = 0;
            try {
                ByteBuffer out = ByteBuffer.wrap(request);
                while (out.hasRemaining()) {
                    channel.write(out);
                    if (out.hasRemaining()) {
                        key.interestOps(SelectionKey.OP_WRITE);
                        if (!await(start)) {
                            return Outcome.TIMEOUT;
                        }
                    }
                }
                in.clear();
                key.interestOps(SelectionKey.OP_READ);
                while (true) {
                    int n = channel.read(in);
                    if (n < 0) {
                        return Outcome.CLOSED;
                    }
                    gotLast += n;
                    if (n > 0) {
                        int r = parse();
                        if (r >= 0) {
                            if (r == 1) {
                                closeResponses.incrementAndGet(mode.ordinal());
                                closeChannel();
                            }
                            return statusOutcome;
                        }
                        if (!in.hasRemaining()) {
                            return Outcome.HTTP_ERROR;
                        }
                    }
                    if (!await(start)) {
                        return Outcome.TIMEOUT;
                    }
                }
            } catch (IOException e) {
                if (reused && gotLast == 0) {
                    return Outcome.CLOSED;
                }
                return isReset(e) ? Outcome.RESET : Outcome.CLOSED;
            }
        }

        private Outcome statusOutcome;

        /**
         * Parses what is in {@link #in}: -1 = incomplete, 0 = complete, 1 = complete and the
         * server will close ({@code Connection: close}). Sets {@link #statusOutcome}, gen, pid.
         */
        private int parse() {
            byte[] b = in.array();
            int len = in.position();
            int headerEnd = -1;
            for (int i = 3; i < len; i++) {
                if (b[i] == '\n' && b[i - 1] == '\r' && b[i - 2] == '\n' && b[i - 3] == '\r') {
                    headerEnd = i + 1;
                    break;
                }
            }
            if (headerEnd < 0) {
                return -1;
            }
            String head = new String(b, 0, headerEnd, StandardCharsets.ISO_8859_1);
            int sp = head.indexOf(' ');
            int status;
            try {
                status = Integer.parseInt(head.substring(sp + 1, sp + 4));
            } catch (RuntimeException e) {
                statusOutcome = Outcome.HTTP_ERROR;
                return 1;
            }
            int contentLength = -1;
            boolean close = false;
            for (String line : head.split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon <= 0) {
                    continue;
                }
                String name = line.substring(0, colon).trim().toLowerCase();
                String value = line.substring(colon + 1).trim();
                switch (name) {
                    case "content-length" -> contentLength = Integer.parseInt(value);
                    case "connection" -> close = value.equalsIgnoreCase("close");
                    case "x-gen" -> gen = number(value, 0);
                    default -> { }
                }
            }
            if (contentLength < 0) {
                statusOutcome = Outcome.HTTP_ERROR;
                return 1;
            }
            if (len < headerEnd + contentLength) {
                return -1;
            }
            String body = new String(b, headerEnd, contentLength, StandardCharsets.ISO_8859_1);
            int g = body.indexOf("\"generation\":");
            if (g >= 0 && gen < 0) {
                gen = number(body, g + 13);
            }
            int p = body.indexOf("\"pid\":");
            if (p >= 0) {
                pid = number(body, p + 6);
            }
            statusOutcome = status >= 500 ? Outcome.HTTP_ERROR : Outcome.OK;
            return close ? 1 : 0;
        }

        /** Waits for the key's interest until the request's deadline; false on timeout or stop. */
        private boolean await(long start) throws IOException {
            long left = start + spec.timeout.toNanos() - Clock.nanos();
            if (left <= 0) {
                return false;
            }
            selector.select(Math.max(1, left / 1_000_000));
            selector.selectedKeys().clear();
            return true;
        }

        private void closeChannel() {
            if (channel != null) {
                try {
                    if (key != null) {
                        key.cancel();
                    }
                    channel.close();
                    selector.selectNow(); // flush the cancelled key
                } catch (IOException ignored) {
                    // already gone
                }
                channel = null;
                key = null;
            }
        }
    }

    static boolean isReset(IOException e) {
        String m = String.valueOf(e.getMessage());
        return m.contains("reset") || m.contains("Broken pipe");
    }

    /** The digits at {@code from} (after optional spaces), or -1. */
    static int number(String s, int from) {
        int i = from;
        while (i < s.length() && s.charAt(i) == ' ') {
            i++;
        }
        int v = 0;
        int start = i;
        while (i < s.length() && Character.isDigit(s.charAt(i)) && i - start < 9) {
            v = v * 10 + (s.charAt(i) - '0');
            i++;
        }
        return i == start ? -1 : v;
    }
}
