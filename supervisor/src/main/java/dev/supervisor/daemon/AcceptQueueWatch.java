package dev.supervisor.daemon;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Tells when a listener's kernel accept queue has stayed above half its limit, never shrinking,
 * for {@link #PATIENCE}: connections pile up that no generation takes. Fed one sample per
 * listener per tick by the supervisor thread (the only one that calls it); warns once per episode.
 */
final class AcceptQueueWatch {
    static final Duration TICK = Duration.ofSeconds(1);
    static final Duration PATIENCE = Duration.ofSeconds(3);

    /** Since when a listener's queue has been above half and not shrinking, its last length, and whether we warned. */
    private static final class Episode {
        long sinceNanos;
        int lastLength;
        boolean warned;
    }

    private final Map<String, Episode> open = new HashMap<>();

    /**
     * One sample of listener {@code name} at {@code nowNanos}; {@code servedBy} names the
     * generations that should accept from it. Returns the warning to log, or null.
     */
    String sample(String name, int length, int limit, long nowNanos, Supplier<String> servedBy) {
        if (limit <= 0 || length * 2 <= limit) {
            open.remove(name);
            return null;
        }
        Episode e = open.get(name);
        if (e == null || length < e.lastLength) {
            // a queue that shrank was accepted from
            e = new Episode();
            e.sinceNanos = nowNanos;
            open.put(name, e);
        }
        e.lastLength = length;
        long stuck = nowNanos - e.sinceNanos;
        if (e.warned || stuck < PATIENCE.toNanos()) {
            return null;
        }
        e.warned = true;
        return "listener " + name + ": accept queue above half its limit (" + length + " of " + limit + ") for "
                + Durations.format(Duration.ofSeconds(stuck / 1_000_000_000)) + " without shrinking; " + servedBy.get();
    }

    /** Forgets listeners that are gone. */
    void retain(Set<String> names) {
        open.keySet().retainAll(names);
    }
}
