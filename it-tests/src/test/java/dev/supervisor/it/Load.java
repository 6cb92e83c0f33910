package dev.supervisor.it;

import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * Bounded load: N client threads send {@code GET path} one after another until a fixed number of
 * requests has been sent, the deadline passes or {@link Running#stop} is called, whichever comes
 * first. Every outcome is counted: answered (the expected status), or failed by kind.
 */
public final class Load {
    public enum Failure {
        /** connect() refused: nothing listened (the failure socket activation exists to prevent). */
        REFUSED,
        /** the connection was reset or broken mid-request. */
        RESET,
        /** connect or read timed out. */
        TIMEOUT,
        /** closed with no answer, or not HTTP. */
        NO_ANSWER,
        /** an answer with another status than expected. */
        BAD_STATUS,
        /** the expected status, but a body the {@link #countBy} function rejects. */
        BAD_BODY,
        OTHER
    }

    private final int port;
    private final String path;
    private int threads = 4;
    private int requests = 100;
    private Duration deadline = Duration.ofSeconds(30);
    private int expectedStatus = 200;
    private Function<Http.Response, String> key = r -> null;

    private Load(int port, String path) {
        this.port = port;
        this.path = path;
    }

    public static Load against(int port, String path) {
        return new Load(port, path);
    }

    public Load threads(int n) {
        this.threads = n;
        return this;
    }

    /** At most this many requests in all. */
    public Load requests(int n) {
        this.requests = n;
        return this;
    }

    /** Stop sending after this long, however many were sent. */
    public Load deadline(Duration d) {
        this.deadline = d;
        return this;
    }

    Load expect(int status) {
        this.expectedStatus = status;
        return this;
    }

    /** Counts answered requests by {@code f(response)}, e.g. the pid that answered. */
    public Load countBy(Function<Http.Response, String> f) {
        this.key = f;
        return this;
    }

    /** Runs to the end and returns the counts. */
    Result run() throws InterruptedException {
        return start().await();
    }

    public Running start() {
        return new Running();
    }

    /** A load in progress. */
    public final class Running {
        private final AtomicInteger tickets = new AtomicInteger();
        private final AtomicInteger answered = new AtomicInteger();
        private final AtomicBoolean stopped = new AtomicBoolean();
        private final Map<Failure, AtomicInteger> failures = new ConcurrentHashMap<>();
        private final Map<String, AtomicInteger> byKey = new ConcurrentHashMap<>();
        private final List<String> samples = Collections.synchronizedList(new ArrayList<>());
        private final CountDownLatch done;
        private final long startNanos = System.nanoTime();
        private final long endNanos = startNanos + deadline.toNanos();
        private final AtomicLong maxLatencyNanos = new AtomicLong();

        private Running() {
            done = new CountDownLatch(threads);
            for (int i = 0; i < threads; i++) {
                Thread t = new Thread(this::loop, "load-" + port + "-" + i);
                t.setDaemon(true);
                t.start();
            }
        }

        private void loop() {
            try {
                while (!stopped.get() && System.nanoTime() - endNanos < 0 && tickets.getAndIncrement() < requests) {
                    long t0 = System.nanoTime();
                    try {
                        record(Http.get(port, path));
                    } catch (IOException | RuntimeException e) {
                        fail(classify(e), e.toString());
                    }
                    maxLatencyNanos.accumulateAndGet(System.nanoTime() - t0, Math::max);
                }
            } finally {
                done.countDown();
            }
        }

        private void record(Http.Response r) {
            if (r.status() != expectedStatus) {
                fail(Failure.BAD_STATUS, r.toString());
                return;
            }
            String k;
            try {
                k = key.apply(r);
            } catch (RuntimeException | AssertionError e) {
                fail(Failure.BAD_BODY, r + ": " + e.getMessage());
                return;
            }
            answered.incrementAndGet();
            if (k != null) {
                byKey.computeIfAbsent(k, x -> new AtomicInteger()).incrementAndGet();
            }
        }

        private void fail(Failure kind, String what) {
            failures.computeIfAbsent(kind, k -> new AtomicInteger()).incrementAndGet();
            if (samples.size() < 10) {
                samples.add(kind + ": " + what);
            }
        }

        /** Requests answered so far. */
        int answered() {
            return answered.get();
        }

        /** Stops sending (requests in flight finish) and waits for the threads. */
        public Result stop() throws InterruptedException {
            stopped.set(true);
            return await();
        }

        /** Waits until the load ends by count or deadline (plus the last requests' timeouts). */
        Result await() throws InterruptedException {
            Duration grace = deadline.plus(Http.CONNECT_TIMEOUT).plus(Http.READ_TIMEOUT).plusSeconds(5);
            if (!done.await(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("load threads still running " + grace.toMillis() + " ms after the start");
            }
            Map<Failure, Integer> f = new EnumMap<>(Failure.class);
            failures.forEach((k, v) -> f.put(k, v.get()));
            Map<String, Integer> keys = new java.util.TreeMap<>();
            byKey.forEach((k, v) -> keys.put(k, v.get()));
            Result r = new Result(answered.get(), f, keys, List.copyOf(samples), Duration.ofNanos(System.nanoTime() - startNanos),
                    Duration.ofNanos(maxLatencyNanos.get()));
            System.err.println("[load " + threads + " x GET 127.0.0.1:" + port + path + "] " + r);
            return r;
        }
    }

    static Failure classify(Throwable e) {
        if (e instanceof ConnectException) {
            return Failure.REFUSED;
        }
        if (e instanceof SocketTimeoutException) {
            return Failure.TIMEOUT;
        }
        if (e instanceof SocketException) {
            String m = String.valueOf(e.getMessage()).toLowerCase(java.util.Locale.ROOT);
            return m.contains("refused") ? Failure.REFUSED : m.contains("reset") || m.contains("broken pipe") ? Failure.RESET : Failure.OTHER;
        }
        if (e instanceof EOFException || e instanceof Http.MalformedResponse) {
            return Failure.NO_ANSWER;
        }
        return Failure.OTHER;
    }

    /** What a load saw. */
    public record Result(int answered, Map<Failure, Integer> failures, Map<String, Integer> byKey, List<String> samples, Duration took,
            Duration maxLatency) {
        public int failed() {
            return failures.values().stream().mapToInt(Integer::intValue).sum();
        }

        @Override
        public String toString() {
            return answered + " answered, " + failed() + " failed " + failures + " in " + took.toMillis() + " ms (slowest "
                    + maxLatency.toMillis() + " ms)" + (byKey.isEmpty() ? "" : ", by " + byKey) + (samples.isEmpty() ? "" : ", e.g. " + samples);
        }
    }
}
