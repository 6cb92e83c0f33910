package dev.supervisor.daemon;

import java.util.List;
import java.util.Map;

/**
 * The supervisor's state for one scrape of {@code /metrics} or {@code /ready}, copied on the
 * supervisor thread and immutable after: the scrape reads /proc (for {@link #census}) on its own
 * thread.
 *
 * @param serving the serving generation's number, 0 when none
 * @param ready whether a generation is ready and serving (and the supervisor is not stopping)
 * @param generations live generations by state, lower case (every state but exited, zeros included)
 * @param workers live workers by state, lower case (every state but exited, zeros included)
 * @param listeners the open listeners; a queue length and limit of -1 when the kernel has none (UDP, Unix)
 */
public record Snapshot(int serving, boolean ready, Map<String, Integer> generations, Map<String, Integer> workers, long workerRestarts,
        Reloads reloads, List<ListenerQueue> listeners, Connections.Census census) {

    /** A listener's kernel accept queue: {@code length} connections waiting, at most {@code limit}. */
    public record ListenerQueue(String name, int length, int limit) {}

    /** Reload counts and histograms since start; the first config counts as the last good one, as in Prometheus. */
    public record Reloads(long ok, long failed, boolean lastSuccessful, long lastSuccessEpochMillis, Histogram duration, Histogram overhead) {}

    /** A classic histogram: {@code counts[i]} observations in (bounds[i-1], bounds[i]], the last one past every bound. */
    public record Histogram(double[] bounds, long[] counts, double sum) {}
}
