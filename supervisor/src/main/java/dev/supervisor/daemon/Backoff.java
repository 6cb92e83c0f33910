package dev.supervisor.daemon;

import java.time.Duration;

/**
 * Restart delay of a crashing worker slot: 100 ms, doubling to 30 s; a worker that served 60 s
 * before it died starts the sequence again.
 */
public final class Backoff {
    static final Duration FIRST = Duration.ofMillis(100);
    static final Duration MAX = Duration.ofSeconds(30);
    static final Duration RESET_AFTER = Duration.ofSeconds(60);

    private Duration last = Duration.ZERO;

    public Backoff() {}

    /** The backoff of a slot the previous image ran: its last delay was {@code lastMillis} (0 = none yet). */
    static Backoff resumed(long lastMillis) {
        Backoff b = new Backoff();
        b.last = Duration.ofMillis(lastMillis);
        return b;
    }

    /** The last delay, for an upgrade's hand-over; 0 = none yet. */
    long lastMillis() {
        return last.toMillis();
    }

    /** The delay before restarting a worker that ran for {@code served}. */
    public Duration next(Duration served) {
        if (last.isZero() || served.compareTo(RESET_AFTER) >= 0) {
            last = FIRST;
        } else {
            Duration doubled = last.multipliedBy(2);
            last = doubled.compareTo(MAX) > 0 ? MAX : doubled;
        }
        return last;
    }
}
