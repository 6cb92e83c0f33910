package dev.supervisor.it.reload;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The supervisor's own account of each reload, from its log lines
 * {@code generation G ready in T ms (slowest worker W ms, supervisor S ms); draining generation G-1}:
 * S is the time from the reload request to the drain of the old generation minus the slowest new
 * worker's own start-to-ready time, i.e. what the supervisor itself added.
 */
final class ReloadTimes {
    static final Pattern READY = Pattern.compile(
            "^supervisor: generation (\\d+) ready in (\\d+) ms \\(slowest worker (\\d+) ms, supervisor ([0-9.]+) ms\\); draining generation (\\d+)$");

    record Reload(int generation, long totalMs, long slowestWorkerMs, double supervisorMs) {}

    final List<Reload> reloads = new ArrayList<>();

    static ReloadTimes of(List<String> supervisorLog) {
        ReloadTimes t = new ReloadTimes();
        for (String l : supervisorLog) {
            Matcher m = READY.matcher(l);
            if (m.find()) {
                t.reloads.add(new Reload(Integer.parseInt(m.group(1)), Long.parseLong(m.group(2)), Long.parseLong(m.group(3)),
                        Double.parseDouble(m.group(4))));
            }
        }
        return t;
    }

    /** "min/median/max" of {@code values}, in ms with two decimals. */
    static String spread(List<Double> values) {
        if (values.isEmpty()) {
            return "none";
        }
        List<Double> v = new ArrayList<>(values);
        Collections.sort(v);
        int n = v.size();
        double median = n % 2 == 1 ? v.get(n / 2) : (v.get(n / 2 - 1) + v.get(n / 2)) / 2;
        return String.format("%.2f/%.2f/%.2f ms", v.get(0), median, v.get(n - 1));
    }

    String summary() {
        List<Double> sup = new ArrayList<>();
        List<Double> worker = new ArrayList<>();
        List<Double> total = new ArrayList<>();
        for (Reload r : reloads) {
            sup.add(r.supervisorMs);
            worker.add((double) r.slowestWorkerMs);
            total.add((double) r.totalMs);
        }
        return reloads.size() + " reloads: supervisor overhead min/median/max " + spread(sup)
                + (reloads.isEmpty() ? "" : String.format(" (the first reload, on a cold JVM: %.2f ms)", reloads.get(0).supervisorMs))
                + "; slowest worker start-to-ready " + spread(worker) + "; request-to-drain " + spread(total);
    }
}
