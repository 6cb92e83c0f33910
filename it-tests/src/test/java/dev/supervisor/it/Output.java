package dev.supervisor.it;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every line a process wrote on stdout and stderr, in arrival order, safe to read from any thread.
 * Waiting is on this object's monitor: a reader thread adds a line and wakes the waiters, so
 * {@link #await} returns as soon as the line is there, and fails at its deadline, never later.
 */
public final class Output {
    public enum Stream { STDOUT, STDERR }

    public record Line(Stream stream, String text) {
        @Override
        public String toString() {
            return (stream == Stream.STDOUT ? "out| " : "err| ") + text;
        }
    }

    /** A line that matched, and where: wait for a later event with {@code await(match.index() + 1, ...)}. */
    public record Match(int index, Line line, Matcher matcher) {
        public String group(int g) {
            return matcher.group(g);
        }
    }

    private final List<Line> lines = new ArrayList<>();
    private final List<Consumer<Line>> listeners = new ArrayList<>();
    private int openStreams = 2;

    public synchronized void add(Stream stream, String text) {
        Line l = new Line(stream, text);
        lines.add(l);
        for (Consumer<Line> c : listeners) {
            c.accept(l);
        }
        notifyAll();
    }

    /** {@code c} sees every line, those already there first; it runs under this object's lock. */
    synchronized void onLine(Consumer<Line> c) {
        lines.forEach(c);
        listeners.add(c);
    }

    public synchronized void ended(Stream stream) {
        openStreams--;
        notifyAll();
    }

    /** How many lines there are now: a mark to wait for what comes after it. */
    public synchronized int size() {
        return lines.size();
    }

    public synchronized List<Line> lines() {
        return List.copyOf(lines);
    }

    public synchronized List<String> lines(Stream stream) {
        List<String> out = new ArrayList<>();
        for (Line l : lines) {
            if (l.stream() == stream) {
                out.add(l.text());
            }
        }
        return out;
    }

    /** The first line at or after index {@code from} on {@code stream} (null = either) that {@code pattern} finds. */
    synchronized Match find(int from, Stream stream, Pattern pattern) {
        for (int i = from; i < lines.size(); i++) {
            Line l = lines.get(i);
            if (stream == null || l.stream() == stream) {
                Matcher m = pattern.matcher(l.text());
                if (m.find()) {
                    return new Match(i, l, m);
                }
            }
        }
        return null;
    }

    /**
     * Waits for a line at or after {@code from} that {@code pattern} finds; fails when the
     * deadline passes or both streams end without one, showing what came instead.
     */
    public synchronized Match await(int from, Stream stream, Pattern pattern, java.time.Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        int scanned = from;
        while (true) {
            Match m = find(scanned, stream, pattern);
            if (m != null) {
                return m;
            }
            scanned = Math.max(from, lines.size());
            if (openStreams == 0) {
                throw new AssertionError("the process's output ended without a line matching /" + pattern + "/" + dump());
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("no line matching /" + pattern + "/ within " + timeout.toMillis() + " ms" + dump());
            }
            try {
                TimeUnit.NANOSECONDS.timedWait(this, left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for /" + pattern + "/", e);
            }
        }
    }

    /** Waits until both streams have ended (the process and every holder of its pipes are gone). */
    synchronized boolean awaitEnd(java.time.Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (openStreams > 0) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }

    public synchronized String dump() {
        StringBuilder b = new StringBuilder("; output so far (" + lines.size() + " lines):");
        int start = Math.max(0, lines.size() - 80);
        if (start > 0) {
            b.append("\n  ... ").append(start).append(" lines before");
        }
        for (int i = start; i < lines.size(); i++) {
            b.append("\n  ").append(lines.get(i));
        }
        return b.toString();
    }
}
