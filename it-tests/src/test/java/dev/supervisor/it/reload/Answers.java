package dev.supervisor.it.reload;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The generations that answered a load, in the order the load's threads saw them, checked against
 * the reloads the test finished. Load threads call {@link #answered}; the test calls
 * {@link #reloadDone} when a reload has ended and {@link #await} to wait for the new generation.
 *
 * <p>What "the generation moves forward" means here, exactly: a request sent after the reload to
 * G was done is answered by G or by G-1 (an old worker may still take the connection it had in
 * hand when the drain signal came), never by an older one. A load thread sends its next request
 * only after its previous answer came, so the time of that previous answer bounds when the request
 * was sent; the time of "reload done" is when the test saw it, a little after it happened, which
 * only makes the check more lenient, never wrong.
 */
final class Answers {
    private final Map<Integer, Integer> byGeneration = new TreeMap<>();
    /** Generation -> System.nanoTime() when the test saw its reload done, in increasing order. */
    private final List<long[]> done = new ArrayList<>();
    private final ThreadLocal<long[]> previousAnswer = ThreadLocal.withInitial(() -> new long[] {0});
    private final List<String> regressions = new ArrayList<>();
    private int highest;

    /** The calling load thread got an answer from {@code generation}. */
    void answered(int generation) {
        long now = System.nanoTime();
        long[] prev = previousAnswer.get();
        long sentAfter = prev[0];
        prev[0] = now;
        synchronized (this) {
            if (generation < 1 && regressions.size() < 20) {
                regressions.add("an answer without a generation number");
            }
            byGeneration.merge(generation, 1, Integer::sum);
            highest = Math.max(highest, generation);
            if (sentAfter != 0) {
                int floor = 0;
                for (long[] d : done) {
                    if (d[1] - sentAfter <= 0) {
                        floor = (int) d[0];
                    }
                }
                if (generation < floor - 1 && regressions.size() < 20) {
                    regressions.add("generation " + generation + " answered a request sent after the reload to generation " + floor
                            + " was done");
                }
            }
            notifyAll();
        }
    }

    synchronized void reloadDone(int generation) {
        done.add(new long[] {generation, System.nanoTime()});
    }

    /** Waits until {@code generation} has answered a request of the load; false at the deadline. */
    synchronized boolean await(int generation, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!byGeneration.containsKey(generation)) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }

    synchronized Map<Integer, Integer> byGeneration() {
        return new TreeMap<>(byGeneration);
    }

    /** Answers that broke the rule above, or carried no generation; empty when all is well. */
    synchronized List<String> regressions() {
        return List.copyOf(regressions);
    }

    synchronized int highest() {
        return highest;
    }

    synchronized int total() {
        return byGeneration.values().stream().mapToInt(Integer::intValue).sum();
    }
}
