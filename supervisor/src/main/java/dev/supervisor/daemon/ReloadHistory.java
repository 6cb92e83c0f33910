package dev.supervisor.daemon;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.function.IntFunction;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.supervisor.protocol.Message;

/**
 * What became of each reload: the last {@link #KEPT} in full (for {@code status}), and totals since
 * start (for {@code /metrics}). The supervisor thread tells it each step of the reload that runs;
 * only that thread touches it. A reload runs from its request until its answer ({@link #finished});
 * when it succeeded, its old generation drains after that, and the entry records when it had.
 */
final class ReloadHistory {
    static final int KEPT = 20;
    /** The trigger of a reload asked for on the control socket. */
    static final String CONTROL = "control";
    /** Upper bounds of supervisor_reload_duration_seconds (request to ready): JVM workers take seconds. */
    static final double[] DURATION_BOUNDS = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
    /** Upper bounds of supervisor_reload_overhead_seconds: the supervisor's own share, milliseconds. */
    static final double[] OVERHEAD_BOUNDS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};

    /** One reload; times are System.nanoTime(), 0 = not (yet) reached. */
    static final class Reload {
        final int number;
        final String trigger;
        final int merged;
        final long requestedNanos;
        Generation generation;
        Generation old;
        /** Their numbers, which outlive them (an upgrade hands over only live generations); 0 = none. */
        int generationNumber;
        int oldNumber;
        long readyNanos;
        long oldDrainedNanos;
        long finishedNanos;
        long overheadNanos = -1;
        Boolean ok;
        String reason;

        Reload(int number, String trigger, int merged, long requestedNanos) {
            this.number = number;
            this.trigger = trigger;
            this.merged = merged;
            this.requestedNanos = requestedNanos;
        }
    }

    private final ArrayDeque<Reload> last = new ArrayDeque<>();
    private final List<String> pendingTriggers = new ArrayList<>();
    private Reload running;
    private int count;
    private long ok;
    private long failed;
    private boolean lastSuccessful = true;
    private long lastSuccessEpochMillis;
    private final long[] durationCounts = new long[DURATION_BOUNDS.length + 1];
    private double durationSum;
    private final long[] overheadCounts = new long[OVERHEAD_BOUNDS.length + 1];
    private double overheadSum;

    /** @param startEpochMillis when the supervisor started: its first config counts as the last good one, as in Prometheus */
    ReloadHistory(long startEpochMillis) {
        this.lastSuccessEpochMillis = startEpochMillis;
    }

    /** A request merged into one more reload after the running one. */
    void merged(String trigger) {
        pendingTriggers.add(trigger);
    }

    /**
     * A reload is taken up at {@code nanos}; {@code trigger} null means the one made of the
     * requests {@link #merged} while the last one ran.
     */
    void requested(String trigger, long nanos) {
        int merged = 0;
        if (trigger == null) {
            trigger = String.join("+", new LinkedHashSet<>(pendingTriggers));
            merged = pendingTriggers.size();
            pendingTriggers.clear();
        }
        running = new Reload(++count, trigger, merged, nanos);
        last.addFirst(running);
        if (last.size() > KEPT) {
            last.removeLast();
        }
    }

    /** The running reload started generation {@code g}, to replace {@code old} (null when none serves). */
    void starting(Generation g, Generation old) {
        running.generation = g;
        running.old = old;
        running.generationNumber = g.number;
        running.oldNumber = old == null ? 0 : old.number;
    }

    /** The running reload's generation is ready at {@code nanos}; the old one is told to drain. */
    void ready(long nanos, long overheadNanos, long epochMillis) {
        running.readyNanos = nanos;
        running.overheadNanos = overheadNanos;
        lastSuccessEpochMillis = epochMillis;
        observe(DURATION_BOUNDS, durationCounts, (nanos - running.requestedNanos) / 1e9);
        durationSum += (nanos - running.requestedNanos) / 1e9;
        observe(OVERHEAD_BOUNDS, overheadCounts, overheadNanos / 1e9);
        overheadSum += overheadNanos / 1e9;
    }

    /** The running reload answered: ok, or failed for {@code reason}. */
    void finished(boolean succeeded, String reason, long nanos) {
        Reload r = running;
        running = null;
        r.finishedNanos = nanos;
        r.ok = succeeded;
        r.reason = succeeded ? null : reason;
        lastSuccessful = succeeded;
        if (succeeded) {
            ok++;
        } else {
            failed++;
        }
    }

    /** Generation {@code g} has exited: a reload that replaced it has its old generation drained. */
    void exited(Generation g, long nanos) {
        for (Reload r : last) {
            if (r.old == g && Boolean.TRUE.equals(r.ok)) {
                r.oldDrainedNanos = nanos;
            }
        }
    }

    /** Everything, for an upgrade's hand-over; no reload runs then. Times are System.nanoTime(). */
    ObjectNode save() {
        ObjectNode h = Message.json().createObjectNode();
        h.put("count", count).put("ok", ok).put("failed", failed).put("last_successful", lastSuccessful)
                .put("last_success_epoch_ms", lastSuccessEpochMillis).put("duration_sum", durationSum).put("overhead_sum", overheadSum);
        ArrayNode dc = h.putArray("duration_counts");
        Arrays.stream(durationCounts).forEach(dc::add);
        ArrayNode oc = h.putArray("overhead_counts");
        Arrays.stream(overheadCounts).forEach(oc::add);
        // A control request merged here is still in flight: the new image takes it again and counts it then.
        ArrayNode pending = h.putArray("pending");
        pendingTriggers.stream().filter(t -> !CONTROL.equals(t)).forEach(pending::add);
        ArrayNode entries = h.putArray("last");
        for (Reload r : last) {
            ObjectNode e = entries.addObject().put("number", r.number).put("trigger", r.trigger).put("merged", r.merged)
                    .put("requested", r.requestedNanos).put("generation", r.generationNumber).put("old", r.oldNumber)
                    .put("ready", r.readyNanos).put("old_drained", r.oldDrainedNanos).put("finished", r.finishedNanos)
                    .put("overhead", r.overheadNanos);
            if (r.ok != null) {
                e.put("result", r.ok);
            }
            if (r.reason != null) {
                e.put("reason", r.reason);
            }
        }
        return h;
    }

    /** What {@link #save} wrote, with the live generations found by number (null = gone). */
    void restore(JsonNode h, IntFunction<Generation> generation) {
        count = h.path("count").asInt();
        ok = h.path("ok").asLong();
        failed = h.path("failed").asLong();
        lastSuccessful = h.path("last_successful").asBoolean(true);
        lastSuccessEpochMillis = h.path("last_success_epoch_ms").asLong(lastSuccessEpochMillis);
        durationSum = h.path("duration_sum").asDouble();
        overheadSum = h.path("overhead_sum").asDouble();
        for (int i = 0; i < durationCounts.length; i++) {
            durationCounts[i] = h.path("duration_counts").path(i).asLong();
        }
        for (int i = 0; i < overheadCounts.length; i++) {
            overheadCounts[i] = h.path("overhead_counts").path(i).asLong();
        }
        h.path("pending").forEach(t -> pendingTriggers.add(t.asText()));
        for (JsonNode e : h.path("last")) {
            Reload r = new Reload(e.path("number").asInt(), e.path("trigger").asText(), e.path("merged").asInt(), e.path("requested").asLong());
            r.generationNumber = e.path("generation").asInt();
            r.oldNumber = e.path("old").asInt();
            r.generation = r.generationNumber == 0 ? null : generation.apply(r.generationNumber);
            r.old = r.oldNumber == 0 ? null : generation.apply(r.oldNumber);
            r.readyNanos = e.path("ready").asLong();
            r.oldDrainedNanos = e.path("old_drained").asLong();
            r.finishedNanos = e.path("finished").asLong();
            r.overheadNanos = e.path("overhead").asLong(-1);
            r.ok = e.has("result") ? e.get("result").asBoolean() : null;
            r.reason = e.has("reason") ? e.get("reason").asText() : null;
            last.addLast(r);
        }
    }

    /** Counts and histograms since start, copied for a scrape. */
    Snapshot.Reloads totals() {
        return new Snapshot.Reloads(ok, failed, lastSuccessful, lastSuccessEpochMillis,
                new Snapshot.Histogram(DURATION_BOUNDS, durationCounts.clone(), durationSum),
                new Snapshot.Histogram(OVERHEAD_BOUNDS, overheadCounts.clone(), overheadSum));
    }

    private static void observe(double[] bounds, long[] counts, double value) {
        int i = Arrays.binarySearch(bounds, value);
        counts[i >= 0 ? i : -i - 1]++;
    }

    /** The kept reloads, newest first, as {@code status --json} shows them; times in ms since {@code originNanos}. */
    void toJson(ArrayNode out, long originNanos) {
        for (Iterator<Reload> it = last.iterator(); it.hasNext(); ) {
            Reload r = it.next();
            ObjectNode j = out.addObject();
            j.put("reload", r.number);
            j.put("trigger", r.trigger);
            if (r.merged > 0) {
                j.put("merged", r.merged);
            }
            if (r.generationNumber != 0) {
                j.put("generation", r.generationNumber);
            }
            if (r.oldNumber != 0) {
                j.put("old_generation", r.oldNumber);
            }
            j.put("requested_ms", ms(r.requestedNanos, originNanos));
            putTime(j, "ready_ms", r.readyNanos, originNanos);
            putTime(j, "old_drained_ms", r.oldDrainedNanos, originNanos);
            putTime(j, "finished_ms", r.finishedNanos, originNanos);
            if (r.ok == null) {
                j.put("result", "running");
            } else {
                j.put("result", r.ok ? "ok" : "failed");
            }
            if (r.reason != null) {
                j.put("reason", r.reason);
            }
            if (r.overheadNanos >= 0) {
                j.put("overhead_us", r.overheadNanos / 1000);
            }
            String step = step(r);
            if (step != null) {
                j.put("step", step);
            }
        }
    }

    /** What a reload that is not over yet waits for; null once it is over. */
    private static String step(Reload r) {
        if (r.ok == null) {
            if (r.generation == null) {
                return "reading the config";
            }
            int ready = 0;
            for (Worker w : r.generation.slots) {
                if (w != null && w.state == Worker.State.READY) {
                    ready++;
                }
            }
            return "starting generation " + r.generation.number + ": " + ready + " of " + r.generation.slots.length + " workers ready";
        }
        if (r.ok && r.old != null && r.oldDrainedNanos == 0 && r.old.state != Generation.State.EXITED) {
            return "draining generation " + r.old.number + ": " + r.old.live.size() + " workers left";
        }
        return null;
    }

    private static void putTime(ObjectNode j, String field, long nanos, long originNanos) {
        if (nanos != 0) {
            j.put(field, ms(nanos, originNanos));
        }
    }

    private static long ms(long nanos, long originNanos) {
        return (nanos - originNanos) / 1_000_000;
    }
}
