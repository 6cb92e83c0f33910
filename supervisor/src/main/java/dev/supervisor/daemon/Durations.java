package dev.supervisor.daemon;

import java.time.Duration;

/** DURATION as the CLI takes it: {@code 500ms}, {@code 5s}, {@code 2m}, {@code 1h}. */
public final class Durations {
    private Durations() {}

    public static Duration parse(String text) {
        String s = text == null ? "" : text.trim();
        int i = 0;
        while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
            i++;
        }
        if (i == 0) {
            throw new IllegalArgumentException("bad duration '" + text + "': expected a number and a unit, as in 500ms, 5s, 2m");
        }
        if (i > 12) {
            // more digits than a year in milliseconds has: too long whatever the unit
            throw new IllegalArgumentException("bad duration '" + text + "': at most " + MAX.toHours() + "h (365 days)");
        }
        long n = Long.parseLong(s.substring(0, i));
        Duration d;
        switch (s.substring(i)) {
            case "ms": d = Duration.ofMillis(n); break;
            case "s": d = Duration.ofSeconds(n); break;
            case "m": d = Duration.ofMinutes(n); break;
            case "h": d = Duration.ofHours(n); break;
            default:
                throw new IllegalArgumentException("bad duration '" + text + "': unit must be ms, s, m or h");
        }
        if (d.compareTo(MAX) > 0) {
            // The supervisor waits in nanoseconds of System.nanoTime(): 12 digits of hours overflow it.
            throw new IllegalArgumentException("bad duration '" + text + "': at most " + MAX.toHours() + "h (365 days)");
        }
        return d;
    }

    /** The longest duration taken: a year, far below what a nanosecond deadline can hold (292 years). */
    static final Duration MAX = Duration.ofDays(365);

    public static String format(Duration d) {
        long ms = d.toMillis();
        if (ms % 60_000 == 0 && ms > 0) {
            return ms / 60_000 + "m";
        }
        if (ms % 1000 == 0 && ms > 0) {
            return ms / 1000 + "s";
        }
        return ms + "ms";
    }
}
