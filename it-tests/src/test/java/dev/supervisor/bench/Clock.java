package dev.supervisor.bench;

/** The benchmark's one clock: nanoseconds since the benchmark started, monotonic. */
final class Clock {
    private static final long ORIGIN = System.nanoTime();

    private Clock() {}

    static long nanos() {
        return System.nanoTime() - ORIGIN;
    }

    static double seconds(long nanos) {
        return nanos / 1e9;
    }
}
