package dev.supervisor.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.supervisor.protocol.Message;

/**
 * One target under load from both kinds of clients: a steady phase with no reload, then
 * {@code reloads} reloads one after the other (each waited for, then a short gap), then one more
 * second. Every request and every reload is recorded; {@link #analyze} turns them into the
 * figures of the report.
 */
final class ReloadRun {
    final String name;
    final String reloadMethod;
    final int asked;
    final List<Target.Reload> reloads = new ArrayList<>();
    Samples samples;
    long steadyFrom;
    long reloadFrom;
    /** The first {@code spaced} reloads are {@link Bench.Options#spacedGap} apart; the rest back to back. */
    int spaced;
    long burstFrom;
    long end;
    Map<Integer, SupervisorTarget.Generation> timeline = Map.of();
    long staleReconnects;
    long closeResponses;
    long retriedOk;
    long retriedFailed;
    int exitCode = Integer.MIN_VALUE;
    int clientsPerMode;
    double ratePerClient;
    String aborted;
    final Map<String, String> notes = new HashMap<>();

    private ReloadRun(Target t, int asked) {
        this.name = t.name();
        this.reloadMethod = t.reloadMethod();
        this.asked = asked;
    }

    /** Runs it; the target is started here and closed before this returns. */
    static ReloadRun run(Target t, int reloads, Bench.Options o) throws Exception {
        ReloadRun r = new ReloadRun(t, reloads);
        Bench.say("%s: starting", t.name());
        try (t) {
            t.start();
            LoadGen.Spec spec = new LoadGen.Spec();
            spec.target = t.address();
            spec.freshClients = o.clients;
            spec.keepAliveClients = o.clients;
            spec.rate = o.rate;
            spec.maxDuration = Duration.ofHours(1);
            r.clientsPerMode = o.clients;
            r.ratePerClient = o.rate;
            LoadGen load = LoadGen.start(spec);
            r.steadyFrom = Clock.nanos();
            park(o.steady);
            r.reloadFrom = Clock.nanos();
            Bench.say("%s: steady %.0f s: %d requests, %d failed; now %d reloads via %s", t.name(), Clock.seconds(r.reloadFrom - r.steadyFrom),
                    load.total(), load.failures(), reloads, t.reloadMethod());
            int consecutiveFailures = 0;
            long lastReport = Clock.nanos();
            r.spaced = Math.min(o.spacedReloads, reloads);
            r.burstFrom = Long.MAX_VALUE;
            for (int i = 0; i < reloads; i++) {
                if (Clock.nanos() - r.reloadFrom > o.reloadBudget.toNanos()) {
                    r.aborted = "stopped after " + i + " of " + reloads + " reloads: the run's time budget of " + o.reloadBudget.toMinutes() + " min";
                    Bench.say("%s: %s", t.name(), r.aborted);
                    break;
                }
                if (i == r.spaced) {
                    r.burstFrom = Clock.nanos();
                }
                Target.Reload x = t.reload();
                r.reloads.add(x);
                consecutiveFailures = x.ok() ? 0 : consecutiveFailures + 1;
                if (!x.ok()) {
                    Bench.say("%s: reload %d failed: %s", t.name(), i + 1, x.error());
                }
                if (consecutiveFailures >= 5) {
                    r.aborted = "5 reloads in a row failed; last: " + x.error();
                    break;
                }
                if (Clock.nanos() - lastReport > 15_000_000_000L) {
                    lastReport = Clock.nanos();
                    Bench.say("%s: %d/%d reloads, %d requests, %d failed", t.name(), i + 1, reloads, load.total(), load.failures());
                }
                park(i < r.spaced ? o.spacedGap : o.gap);
            }
            park(Duration.ofSeconds(1));
            r.samples = load.stop();
            r.end = Clock.nanos();
            r.staleReconnects = load.staleReconnects.get(LoadGen.Mode.KEEPALIVE.ordinal());
            r.closeResponses = load.closeResponses.get(LoadGen.Mode.KEEPALIVE.ordinal());
            r.retriedOk = load.retried.get(0);
            r.retriedFailed = load.retried.get(1);
            if (t instanceof SupervisorTarget s) {
                r.exitCode = s.stop();
                r.timeline = s.timeline();
            }
            if (t instanceof MasterTarget m && m.resent > 0) {
                r.notes.put("reload_signals_sent_again", m.resent + " reload signals were not acknowledged by the master within 1 s and were sent "
                        + "again (the reload counts once)");
            }
            Bench.say("%s: %d reloads (%d ok), %d requests, %d failed", t.name(), r.reloads.size(), r.reloads.stream().filter(Target.Reload::ok).count(),
                    r.samples.size, load.failures());
        }
        return r;
    }

    static void park(Duration d) {
        long end = System.nanoTime() + d.toNanos();
        for (long left = d.toNanos(); left > 0; left = end - System.nanoTime()) {
            LockSupport.parkNanos(left);
        }
    }

    int okReloads() {
        return (int) reloads.stream().filter(Target.Reload::ok).count();
    }

    /** The generation that answered request {@code i}: from the answer, else from the worker pid of a reload's new generation. */
    private Map<Integer, Integer> genByPid() {
        Map<Integer, Integer> m = new HashMap<>();
        for (Target.Reload x : reloads) {
            for (int p : x.newPids()) {
                m.put(p, x.generation());
            }
        }
        return m;
    }

    int[] generations() {
        Map<Integer, Integer> byPid = genByPid();
        int[] g = new int[samples.size];
        for (int i = 0; i < samples.size; i++) {
            g[i] = samples.gen[i] >= 0 ? samples.gen[i] : (samples.pid[i] >= 0 ? byPid.getOrDefault(samples.pid[i], 1) : -1);
        }
        return g;
    }

    /** Outcome counts of one mode within [from, to). */
    long[] counts(LoadGen.Mode mode, long from, long to) {
        long[] c = new long[LoadGen.OUTCOMES.length];
        for (int i = 0; i < samples.size; i++) {
            if (samples.mode[i] == mode.ordinal() && samples.start[i] >= from && samples.start[i] < to) {
                c[samples.outcome[i]]++;
            }
        }
        return c;
    }

    static long failed(long[] c) {
        long f = 0;
        for (int i = 1; i < c.length; i++) {
            f += c[i];
        }
        return f;
    }

    enum Window { STEADY, AFTER_SPACED_RELOAD, BACK_TO_BACK }

    /**
     * Latency (ms) of the successful requests of {@code mode} that started in a window: the steady
     * phase (after its first seconds), each spaced reload from its request until 1 s after it was done
     * (the new generation's start, the old one's drain and the second after; a failed one's first
     * second), or the back-to-back phase.
     */
    Stats latency(LoadGen.Mode mode, Window w) {
        double[] v = new double[samples.size];
        int n = 0;
        long[] reqs = reloads.stream().limit(spaced).mapToLong(Target.Reload::requestedNanos).toArray();
        long[] ends = reloads.stream().limit(spaced).mapToLong(r -> (r.ok() ? r.doneNanos() : r.requestedNanos()) + 1_000_000_000L).toArray();
        boolean afterReload = w == Window.AFTER_SPACED_RELOAD;
        int k = 0;
        long steadyStart = steadyFrom + Math.min(2_000_000_000L, (reloadFrom - steadyFrom) / 4);
        for (int i = 0; i < samples.size; i++) {
            if (samples.mode[i] != mode.ordinal() || samples.failed(i)) {
                continue;
            }
            long s = samples.start[i];
            boolean in;
            if (afterReload) {
                while (k + 1 < reqs.length && reqs[k + 1] <= s) {
                    k++;
                }
                in = reqs.length > 0 && s >= reqs[k] && s < ends[k];
            } else if (w == Window.STEADY) {
                in = s >= steadyStart && s < reloadFrom;
            } else {
                in = s >= burstFrom;
            }
            if (in) {
                v[n++] = samples.latencyUs[i] / 1000.0;
            }
        }
        return Stats.of(v, n);
    }

    /** Per ok reload: ms from the request until the first successful answer from the new generation ended. */
    Stats firstServed() {
        int[] g = generations();
        List<Double> v = new ArrayList<>();
        int i = 0;
        for (Target.Reload x : reloads) {
            if (!x.ok() || x.generation() < 0) {
                continue;
            }
            while (i < samples.size && samples.start[i] < x.requestedNanos()) {
                i++;
            }
            for (int j = i; j < samples.size && samples.start[j] < x.requestedNanos() + 30_000_000_000L; j++) {
                if (g[j] == x.generation() && !samples.failed(j)) {
                    v.add((samples.start[j] + samples.latencyUs[j] * 1000L - x.requestedNanos()) / 1e6);
                    break;
                }
            }
        }
        return Stats.of(v);
    }

    Stats reloadDone() {
        return Stats.of(reloads.stream().filter(Target.Reload::ok).map(x -> x.durationNanos() / 1e6).toList());
    }

    /** The supervisor's own figures for every reloaded generation (not generation 1): {request-to-ready, slowest worker, overhead} ms. */
    Stats[] supervisorTimeline() {
        List<Double> total = new ArrayList<>();
        List<Double> worker = new ArrayList<>();
        List<Double> over = new ArrayList<>();
        for (SupervisorTarget.Generation g : timeline.values()) {
            if (g.number() > 1 && g.readyMs() >= 0) {
                total.add((double) g.readyMs());
                worker.add((double) g.workerMs());
                over.add(g.overheadMs());
            }
        }
        return new Stats[] {Stats.of(total), Stats.of(worker), Stats.of(over)};
    }

    /** Most generations alive at once, and most not yet draining, from the timeline. */
    int[] maxGenerations() {
        List<long[]> events = new ArrayList<>();
        for (SupervisorTarget.Generation g : timeline.values()) {
            long exit = g.exited() < 0 ? Long.MAX_VALUE : g.exited();
            long drain = g.draining() < 0 ? exit : g.draining();
            events.add(new long[] {g.started(), exit, drain});
        }
        int maxAlive = 0;
        int maxLive = 0;
        for (long[] e : events) {
            long t = e[0];
            int alive = 0;
            int live = 0;
            for (long[] f : events) {
                if (f[0] <= t && t < f[1]) {
                    alive++;
                }
                if (f[0] <= t && t < f[2]) {
                    live++;
                }
            }
            maxAlive = Math.max(maxAlive, alive);
            maxLive = Math.max(maxLive, live);
        }
        return new int[] {maxAlive, maxLive};
    }

    /** Whether each successful reload's generation answered, in order: generations advanced. */
    boolean generationsAdvanced() {
        int[] g = generations();
        int last = -1;
        for (int i = 0; i < samples.size; i++) {
            if (!samples.failed(i) && g[i] > last) {
                last = g[i];
            }
        }
        int newest = reloads.stream().filter(Target.Reload::ok).mapToInt(Target.Reload::generation).max().orElse(1);
        return okReloads() > 0 && last == newest;
    }

    ObjectNode analyze() {
        ObjectNode n = Message.json().createObjectNode();
        n.put("target", name);
        n.put("reload_method", reloadMethod);
        n.put("reloads_asked", asked);
        n.put("reloads_ok", okReloads());
        n.put("reloads_failed", reloads.size() - okReloads());
        if (aborted != null) {
            n.put("aborted", aborted);
        }
        n.put("steady_seconds", Stats.round(Clock.seconds(reloadFrom - steadyFrom)));
        n.put("reload_phase_seconds", Stats.round(Clock.seconds(end - reloadFrom)));
        n.put("reloads_spaced", spaced);
        n.put("reloads_back_to_back", reloads.size() - spaced);
        ObjectNode modes = n.putObject("modes");
        for (LoadGen.Mode m : LoadGen.Mode.values()) {
            ObjectNode mj = modes.putObject(m.name().toLowerCase());
            long[] all = counts(m, Long.MIN_VALUE, Long.MAX_VALUE);
            long[] steady = counts(m, steadyFrom, reloadFrom);
            long[] during = counts(m, reloadFrom, Long.MAX_VALUE);
            mj.put("requests", sum(all));
            mj.put("failed", failed(all));
            mj.put("failed_steady", failed(steady));
            mj.put("failed_during_reloads", failed(during));
            mj.put("failed_per_reload", reloads.isEmpty() ? 0 : Stats.round((double) failed(during) / reloads.size()));
            ObjectNode oj = mj.putObject("outcomes");
            for (LoadGen.Outcome o : LoadGen.OUTCOMES) {
                oj.put(o.name().toLowerCase(), all[o.ordinal()]);
            }
            latency(m, Window.STEADY).json(mj.putObject("latency_steady_ms"));
            latency(m, Window.AFTER_SPACED_RELOAD).json(mj.putObject("latency_after_reload_ms"));
            latency(m, Window.BACK_TO_BACK).json(mj.putObject("latency_back_to_back_reloads_ms"));
        }
        n.put("keepalive_reconnects_after_server_close", staleReconnects);
        n.put("keepalive_connection_close_answers", closeResponses);
        n.put("keepalive_closed_retried_ok", retriedOk);
        n.put("keepalive_closed_retried_failed", retriedFailed);
        reloadDone().json(n.putObject("reload_done_ms"));
        firstServed().json(n.putObject("first_answer_from_new_generation_ms"));
        n.put("generations_advanced", generationsAdvanced());
        if (!timeline.isEmpty()) {
            Stats[] s = supervisorTimeline();
            ObjectNode sj = n.putObject("supervisor_timeline");
            s[0].json(sj.putObject("request_to_ready_ms"));
            s[1].json(sj.putObject("slowest_worker_start_to_ready_ms"));
            s[2].json(sj.putObject("overhead_ms"));
            int[] g = maxGenerations();
            sj.put("max_generations_alive", g[0]);
            sj.put("max_generations_not_draining", g[1]);
            sj.put("exit_code", exitCode);
        }
        notes.forEach(n.putObject("notes")::put);
        ArrayNode failures = n.putArray("failed_reloads");
        reloads.stream().filter(x -> !x.ok()).limit(10).forEach(x -> failures.add(x.index() + ": " + x.error()));
        return n;
    }

    static long sum(long[] c) {
        long s = 0;
        for (long x : c) {
            s += x;
        }
        return s;
    }
}
