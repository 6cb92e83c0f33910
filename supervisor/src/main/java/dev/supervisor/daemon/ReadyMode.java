package dev.supervisor.daemon;

import java.time.Duration;

/** --ready: {@code notify} (the worker sends READY=1) or {@code delay:D} (alive for D). */
public final class ReadyMode {
    private final Duration delay; // null = notify

    private ReadyMode(Duration delay) {
        this.delay = delay;
    }

    public static final ReadyMode NOTIFY = new ReadyMode(null);

    public static ReadyMode parse(String text) {
        if ("notify".equals(text)) {
            return NOTIFY;
        }
        if (text != null && text.startsWith("delay:")) {
            return new ReadyMode(Durations.parse(text.substring(6)));
        }
        throw new IllegalArgumentException("bad mode '" + text + "': expected notify or delay:DURATION (as in delay:1s)");
    }

    public boolean isNotify() {
        return delay == null;
    }

    public Duration delay() {
        return delay;
    }

    @Override
    public String toString() {
        return delay == null ? "notify" : "delay:" + Durations.format(delay);
    }
}
