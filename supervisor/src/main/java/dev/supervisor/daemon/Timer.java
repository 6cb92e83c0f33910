package dev.supervisor.daemon;

/** A deadline on the supervisor thread's clock; cancelled ones are skipped when due. */
final class Timer implements Comparable<Timer> {
    final long dueNanos;
    final Runnable action;
    private final long seq;
    boolean cancelled;

    Timer(long dueNanos, long seq, Runnable action) {
        this.dueNanos = dueNanos;
        this.seq = seq;
        this.action = action;
    }

    void cancel() {
        cancelled = true;
    }

    @Override
    public int compareTo(Timer o) {
        int c = Long.compare(dueNanos - o.dueNanos, 0);
        return c != 0 ? c : Long.compare(seq, o.seq);
    }
}
