package dev.supervisor.bench;

import java.util.Arrays;
import java.util.Locale;

/** Percentiles of a set of values, nearest-rank. */
final class Stats {
    final int count;
    final double p50;
    final double p99;
    final double max;
    final double mean;

    private Stats(int count, double p50, double p99, double max, double mean) {
        this.count = count;
        this.p50 = p50;
        this.p99 = p99;
        this.max = max;
        this.mean = mean;
    }

    static final Stats EMPTY = new Stats(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN);

    static Stats of(double[] values, int n) {
        if (n == 0) {
            return EMPTY;
        }
        double[] v = Arrays.copyOf(values, n);
        Arrays.sort(v);
        double sum = 0;
        for (double x : v) {
            sum += x;
        }
        return new Stats(n, rank(v, 0.50), rank(v, 0.99), v[n - 1], sum / n);
    }

    static Stats of(double... values) {
        return of(values, values.length);
    }

    static Stats of(java.util.List<? extends Number> values) {
        return of(values.stream().mapToDouble(Number::doubleValue).toArray());
    }

    static double rank(double[] sorted, double q) {
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    /** "p50 / p99 / max" with {@code digits} decimals, or "n/a". */
    String triple(int digits) {
        if (count == 0) {
            return "n/a";
        }
        return fmt(p50, digits) + " / " + fmt(p99, digits) + " / " + fmt(max, digits);
    }

    static String fmt(double v, int digits) {
        if (Double.isNaN(v)) {
            return "n/a";
        }
        return String.format(Locale.ROOT, "%." + digits + "f", v);
    }

    com.fasterxml.jackson.databind.node.ObjectNode json(com.fasterxml.jackson.databind.node.ObjectNode n) {
        n.put("count", count);
        if (count > 0) {
            n.put("p50", round(p50));
            n.put("p99", round(p99));
            n.put("max", round(max));
            n.put("mean", round(mean));
        }
        return n;
    }

    static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
