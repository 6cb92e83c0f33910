package dev.supervisor.bench;

import java.util.Arrays;
import java.util.List;

/**
 * Every request's record, column-wise: when it was due ({@link Clock} ns), latency from then (µs), outcome, client
 * mode, and the generation and pid the answer named (-1 = none). Growable while one client thread
 * fills it; {@link #merge} sorts all clients' records by start time.
 */
final class Samples {
    long[] start;
    int[] latencyUs;
    byte[] outcome;
    byte[] mode;
    int[] gen;
    int[] pid;
    int size;

    Samples(int capacity) {
        start = new long[capacity];
        latencyUs = new int[capacity];
        outcome = new byte[capacity];
        mode = new byte[capacity];
        gen = new int[capacity];
        pid = new int[capacity];
    }

    void add(long startNanos, long latencyNanos, LoadGen.Outcome o, LoadGen.Mode m, int g, int p) {
        if (size == start.length) {
            int c = size * 2;
            start = Arrays.copyOf(start, c);
            latencyUs = Arrays.copyOf(latencyUs, c);
            outcome = Arrays.copyOf(outcome, c);
            mode = Arrays.copyOf(mode, c);
            gen = Arrays.copyOf(gen, c);
            pid = Arrays.copyOf(pid, c);
        }
        start[size] = startNanos;
        latencyUs[size] = (int) Math.min(Integer.MAX_VALUE, latencyNanos / 1000);
        outcome[size] = (byte) o.ordinal();
        mode[size] = (byte) m.ordinal();
        gen[size] = g;
        pid[size] = p;
        size++;
    }

    static Samples merge(List<Samples> parts) {
        int n = parts.stream().mapToInt(s -> s.size).sum();
        Integer[] order = new Integer[n];
        long[] st = new long[n];
        int[] owner = new int[n];
        int[] idx = new int[n];
        int k = 0;
        for (int p = 0; p < parts.size(); p++) {
            Samples s = parts.get(p);
            for (int i = 0; i < s.size; i++) {
                st[k] = s.start[i];
                owner[k] = p;
                idx[k] = i;
                order[k] = k;
                k++;
            }
        }
        Arrays.sort(order, (a, b) -> Long.compare(st[a], st[b]));
        Samples out = new Samples(Math.max(1, n));
        for (int j = 0; j < n; j++) {
            Samples s = parts.get(owner[order[j]]);
            int i = idx[order[j]];
            out.start[j] = s.start[i];
            out.latencyUs[j] = s.latencyUs[i];
            out.outcome[j] = s.outcome[i];
            out.mode[j] = s.mode[i];
            out.gen[j] = s.gen[i];
            out.pid[j] = s.pid[i];
        }
        out.size = n;
        return out;
    }

    /** Outcome counts by mode: {"fresh": {"ok": n, ...}, "keepalive": {...}}, only outcomes that occurred. */
    com.fasterxml.jackson.databind.node.ObjectNode outcomes() {
        com.fasterxml.jackson.databind.node.ObjectNode n = Bench.object();
        for (LoadGen.Mode m : LoadGen.Mode.values()) {
            long[] c = new long[LoadGen.OUTCOMES.length];
            for (int i = 0; i < size; i++) {
                if (mode[i] == m.ordinal()) {
                    c[outcome[i]]++;
                }
            }
            com.fasterxml.jackson.databind.node.ObjectNode mj = n.putObject(m.name().toLowerCase());
            for (LoadGen.Outcome o : LoadGen.OUTCOMES) {
                if (c[o.ordinal()] > 0 || o == LoadGen.Outcome.OK) {
                    mj.put(o.name().toLowerCase(), c[o.ordinal()]);
                }
            }
        }
        return n;
    }

    boolean failed(int i) {
        return outcome[i] != LoadGen.Outcome.OK.ordinal();
    }
}
