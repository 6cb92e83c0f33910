package dev.supervisor.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A hand-written SVG timeline of one run: successful requests per 100 ms (fresh and keep-alive
 * clients stacked), failed requests as red bars, a marker at every reload request, and below, each
 * generation's life from the supervisor's own log (starting, serving, draining).
 */
final class Chart {
    private Chart() {}

    private static final int W = 1200;
    private static final int LEFT = 60;
    private static final int RIGHT = 20;
    private static final int TOP = 50;
    private static final int PLOT_H = 240;
    private static final int LANES = 4;
    private static final int LANE_H = 14;

    /** The whole run. */
    static String svg(ReloadRun r) {
        return svg(r, r.steadyFrom, r.end, "whole run");
    }

    /** The window [from, to) of a run ({@link Clock} ns). */
    static String svg(ReloadRun r, long from, long to, String what) {
        long span = Math.max(1, to - from);
        // 100 ms buckets; a long run is drawn per second so that it stays readable
        long bucket = span > 60_000_000_000L ? 1_000_000_000L : 100_000_000L;
        String per = bucket == 1_000_000_000L ? "second" : "100 ms";
        int nb = (int) Math.max(1, (span + bucket - 1) / bucket);
        int[] fresh = new int[nb];
        int[] keep = new int[nb];
        int[] fail = new int[nb];
        Samples s = r.samples;
        for (int i = 0; i < s.size; i++) {
            long t = s.start[i] + s.latencyUs[i] * 1000L; // when it was answered (or failed)
            if (t < from || t >= to) {
                continue;
            }
            int b = (int) ((t - from) / bucket);
            if (s.failed(i)) {
                fail[b]++;
            } else if (s.mode[i] == LoadGen.Mode.FRESH.ordinal()) {
                fresh[b]++;
            } else {
                keep[b]++;
            }
        }
        // The scale fits the steady level; the catch-up burst right after a stall (clients send the
        // requests they owe) may go above it and is clipped: the stall itself is the dip before it.
        double[] totals = new double[nb];
        for (int b = 0; b < nb; b++) {
            totals[b] = fresh[b] + keep[b] + fail[b];
        }
        java.util.Arrays.sort(totals);
        double expected = 2.0 * r.clientsPerMode * r.ratePerClient * bucket / 1e9;
        int max = niceCeil((int) Math.ceil(Math.max(1, Math.min(totals[nb - 1], Math.max(1.25 * expected, Stats.rank(totals, 0.95))))));
        boolean clipped = totals[nb - 1] > max;
        double plotW = W - LEFT - RIGHT;
        double xPerNs = plotW / span;
        int genTop = TOP + PLOT_H + 40;
        int h = genTop + LANES * (LANE_H + 4) + 60;
        StringBuilder g = new StringBuilder();
        g.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                + "font-family=\"sans-serif\" font-size=\"12\">\n", W, h, W, h));
        g.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        long failedTotal = 0;
        for (int x : fail) {
            failedTotal += x;
        }
        int reloadsIn = 0;
        for (Target.Reload x : r.reloads) {
            if (x.requestedNanos() >= from && x.requestedNanos() < to) {
                reloadsIn++;
            }
        }
        g.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"20\" font-size=\"15\" font-weight=\"bold\">%s: requests answered per %s, %s (%.1f s, %d reloads, "
                + "%d failed requests)</text>\n", LEFT, esc(r.name), per, what, span / 1e9, reloadsIn, failedTotal));
        g.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"38\" fill=\"#555\">%d fresh-connection + %d keep-alive clients; orange = reload requested; "
                + "red = failed requests; bottom: generations (light = starting, solid = serving, grey = draining)%s</text>\n", LEFT, r.clientsPerMode,
                r.clientsPerMode, clipped ? "; bursts above the scale are clipped" : ""));
        // axes and grid
        for (int i = 0; i <= 4; i++) {
            double y = TOP + PLOT_H - PLOT_H * i / 4.0;
            g.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", LEFT, y, W - RIGHT, y));
            g.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d</text>\n", LEFT - 6, y + 4, max * i / 4));
        }
        double tickS = niceTick(span / 1e9);
        for (double t = 0; t <= span / 1e9 + 1e-9; t += tickS) {
            double x = LEFT + t * 1e9 * xPerNs;
            g.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#999\"/>\n", x, TOP + PLOT_H, x, TOP + PLOT_H + 4));
            g.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s s</text>\n", x, TOP + PLOT_H + 16,
                    Stats.fmt(t + (from - r.steadyFrom) / 1e9, tickS < 1 ? 1 : 0)));
        }
        // reload markers: lines through the plot, or ticks above it when there are too many to see through
        boolean dense = reloadsIn > 60;
        for (Target.Reload x : r.reloads) {
            if (x.requestedNanos() < from || x.requestedNanos() >= to) {
                continue;
            }
            double px = LEFT + (x.requestedNanos() - from) * xPerNs;
            g.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" stroke-width=\"1\" opacity=\"0.6\"/>\n", px,
                    dense ? TOP - 8 : TOP, px, dense ? TOP - 1 : TOP + PLOT_H, x.ok() ? "#f28e2b" : "#b00"));
        }
        // stacked areas: fresh (bottom), keep-alive (top), clipped to the plot
        g.append(String.format(Locale.ROOT, "<clipPath id=\"plot\"><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\"/></clipPath>\n<g clip-path=\"url(#plot)\">\n",
                LEFT, TOP, plotW, PLOT_H));
        g.append(area(fresh, null, nb, max, xPerNs * bucket, "#4e79a7"));
        g.append(area(keep, fresh, nb, max, xPerNs * bucket, "#76b7b2"));
        g.append("</g>\n");
        for (int b = 0; b < nb; b++) {
            if (fail[b] > 0) {
                double bh = Math.min(PLOT_H, Math.max(4, PLOT_H * fail[b] / (double) max));
                g.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#e15759\"/>\n", LEFT + b * xPerNs * bucket,
                        TOP + PLOT_H - bh, Math.max(2, xPerNs * bucket), bh));
            }
        }
        g.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", LEFT, TOP + PLOT_H, W - RIGHT, TOP + PLOT_H));
        g.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", LEFT, TOP, LEFT, TOP + PLOT_H));
        g.append(String.format(Locale.ROOT, "<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\">answered / %s</text>\n",
                TOP + PLOT_H / 2, TOP + PLOT_H / 2, per));
        // legend
        int ly = TOP + PLOT_H + 30;
        legend(g, LEFT, ly, "#4e79a7", "fresh connection");
        legend(g, LEFT + 150, ly, "#76b7b2", "keep-alive");
        legend(g, LEFT + 260, ly, "#e15759", "failed");
        legend(g, LEFT + 340, ly, "#f28e2b", "reload requested");
        // generations
        int lane = 0;
        for (SupervisorTarget.Generation gen : r.timeline.values()) {
            long start = gen.started() < 0 ? from : gen.started();
            long ready = gen.ready() < 0 ? to : gen.ready();
            long drain = gen.draining() < 0 ? to : gen.draining();
            long exit = gen.exited() < 0 ? to : gen.exited();
            if (exit < from || start >= to) {
                continue;
            }
            int y = genTop + (gen.number() % LANES) * (LANE_H + 4);
            seg(g, start, ready, from, to, xPerNs, y, "#bcd3ea");
            seg(g, ready, drain, from, to, xPerNs, y, "#4e79a7");
            seg(g, drain, exit, from, to, xPerNs, y, "#aaaaaa");
            if (span / 1e9 < 40) {
                double x = LEFT + (Math.max(start, from) - from) * xPerNs;
                g.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" fill=\"white\">%d</text>\n", x + 2, y + LANE_H - 3,
                        gen.number()));
            }
            lane++;
        }
        g.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" fill=\"#555\">generations (%d shown; lane = number mod %d)</text>\n", LEFT,
                genTop + LANES * (LANE_H + 4) + 16, lane, LANES));
        g.append("</svg>\n");
        return g.toString();
    }

    private static String area(int[] v, int[] base, int nb, int max, double bw, String color) {
        List<String> top = new ArrayList<>();
        List<String> bottom = new ArrayList<>();
        for (int b = 0; b < nb; b++) {
            double x0 = LEFT + b * bw;
            double x1 = LEFT + (b + 1) * bw;
            int lo = base == null ? 0 : base[b];
            double yTop = TOP + PLOT_H - PLOT_H * (lo + v[b]) / (double) max;
            double yBot = TOP + PLOT_H - PLOT_H * lo / (double) max;
            top.add(String.format(Locale.ROOT, "%.1f,%.1f %.1f,%.1f", x0, yTop, x1, yTop));
            bottom.add(0, String.format(Locale.ROOT, "%.1f,%.1f %.1f,%.1f", x1, yBot, x0, yBot));
        }
        return "<polygon fill=\"" + color + "\" stroke=\"none\" points=\"" + String.join(" ", top) + " " + String.join(" ", bottom) + "\"/>\n";
    }

    private static void seg(StringBuilder g, long a, long b, long from, long to, double xPerNs, int y, String color) {
        long s = Math.max(a, from);
        long e = Math.min(b, to);
        if (e <= s) {
            return;
        }
        g.append(String.format(Locale.ROOT, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"%s\"/>\n", LEFT + (s - from) * xPerNs, y,
                Math.max(0.5, (e - s) * xPerNs), LANE_H, color));
    }

    private static void legend(StringBuilder g, int x, int y, String color, String text) {
        g.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>\n", x, y - 10,
                color, x + 16, y, esc(text)));
    }

    static int niceCeil(int v) {
        int[] steps = {1, 2, 4, 5, 10};
        int mag = 1;
        while (true) {
            for (int s : steps) {
                if (s * mag >= v) {
                    return s * mag;
                }
            }
            mag *= 10;
        }
    }

    static double niceTick(double spanS) {
        double[] c = {0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300};
        for (double t : c) {
            if (spanS / t <= 12) {
                return t;
            }
        }
        return 600;
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
