package dev.supervisor.daemon.metrics;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import dev.supervisor.daemon.Snapshot;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot;
import io.prometheus.metrics.model.snapshots.InfoSnapshot.InfoDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import io.prometheus.metrics.model.snapshots.Unit;

/**
 * Every metric of {@code /metrics}, from one {@link Scrape}. The names are part of the contract
 * (DESIGN.md lists them); the client library appends {@code _total} to counters and {@code _info}
 * to info metrics.
 */
final class SupervisorCollector implements MultiCollector {
    /** What one scrape reads: the supervisor's snapshot, each generation's connections, and our own process. */
    record Scrape(Snapshot state, Map<Integer, Integer> connections, ProcessStats process) {}

    /** Thrown by the source when the supervisor does not answer in time: the scrape fails. */
    interface Source {
        Scrape take();
    }

    private final String version;
    private final Source source;

    SupervisorCollector(String version, Source source) {
        this.version = version;
        this.source = source;
    }

    @Override
    public MetricSnapshots collect() {
        Scrape scrape = source.take();
        Snapshot s = scrape.state();
        Snapshot.Reloads r = s.reloads();
        List<MetricSnapshot> out = new ArrayList<>();
        out.add(InfoSnapshot.builder().name("supervisor_build").help("The supervisor's version")
                .dataPoint(InfoDataPointSnapshot.builder().labels(Labels.of("version", version)).build()).build());
        out.add(gauge("supervisor_serving_generation", "Number of the generation that serves, 0 when none", s.serving()));
        out.add(CounterSnapshot.builder().name("supervisor_reloads").help("Reloads that ended, by result")
                .dataPoint(CounterDataPointSnapshot.builder().labels(Labels.of("result", "ok")).value(r.ok()).build())
                .dataPoint(CounterDataPointSnapshot.builder().labels(Labels.of("result", "failed")).value(r.failed()).build()).build());
        out.add(gauge("supervisor_config_last_reload_successful", "1 when the last reload succeeded (or none ran), 0 when it failed",
                r.lastSuccessful() ? 1 : 0));
        out.add(GaugeSnapshot.builder().name("supervisor_config_last_reload_success_timestamp_seconds").unit(Unit.SECONDS)
                .help("When the last reload succeeded (the start, before any), Unix time")
                .dataPoint(GaugeDataPointSnapshot.builder().value(r.lastSuccessEpochMillis() / 1e3).build()).build());
        out.add(histogram("supervisor_reload_duration_seconds", "Reload time from its request until the new generation was ready",
                r.duration()));
        out.add(histogram("supervisor_reload_overhead_seconds",
                "The supervisor's own share of a reload: request to ready minus the slowest worker's start to ready", r.overhead()));
        out.add(byLabel("supervisor_generations", "Live generations by state", "state", s.generations()));
        out.add(byLabel("supervisor_workers", "Live worker processes by state", "state", s.workers()));
        out.add(CounterSnapshot.builder().name("supervisor_worker_restarts").help("Workers restarted after they exited while serving")
                .dataPoint(CounterDataPointSnapshot.builder().value(s.workerRestarts()).build()).build());
        GaugeSnapshot.Builder length = GaugeSnapshot.builder().name("supervisor_listener_accept_queue_length")
                .help("Connections waiting in the kernel's accept queue of the listening socket (ss -lnt Recv-Q)");
        GaugeSnapshot.Builder limit = GaugeSnapshot.builder().name("supervisor_listener_accept_queue_limit")
                .help("Limit of the kernel's accept queue of the listening socket (ss -lnt Send-Q)");
        for (Snapshot.ListenerQueue q : s.listeners()) {
            if (q.limit() >= 0) {
                length.dataPoint(GaugeDataPointSnapshot.builder().labels(Labels.of("listener", q.name())).value(q.length()).build());
                limit.dataPoint(GaugeDataPointSnapshot.builder().labels(Labels.of("listener", q.name())).value(q.limit()).build());
            }
        }
        out.add(length.build());
        out.add(limit.build());
        GaugeSnapshot.Builder conns = GaugeSnapshot.builder().name("supervisor_generation_connections")
                .help("Established connections on the listeners held by each live generation's processes");
        scrape.connections().forEach((g, n) -> conns.dataPoint(
                GaugeDataPointSnapshot.builder().labels(Labels.of("generation", Integer.toString(g))).value(n).build()));
        out.add(conns.build());

        ProcessStats p = scrape.process();
        out.add(CounterSnapshot.builder().name("process_cpu_seconds").unit(Unit.SECONDS).help("Total user and system CPU time spent in seconds")
                .dataPoint(CounterDataPointSnapshot.builder().value(p.cpuSeconds()).build()).build());
        out.add(GaugeSnapshot.builder().name("process_start_time_seconds").unit(Unit.SECONDS)
                .help("Start time of the process since unix epoch in seconds")
                .dataPoint(GaugeDataPointSnapshot.builder().value(p.startTimeSeconds()).build()).build());
        out.add(GaugeSnapshot.builder().name("process_resident_memory_bytes").unit(Unit.BYTES).help("Resident memory size in bytes")
                .dataPoint(GaugeDataPointSnapshot.builder().value(p.residentBytes()).build()).build());
        out.add(GaugeSnapshot.builder().name("process_virtual_memory_bytes").unit(Unit.BYTES).help("Virtual memory size in bytes")
                .dataPoint(GaugeDataPointSnapshot.builder().value(p.virtualBytes()).build()).build());
        out.add(gauge("process_open_fds", "Number of open file descriptors", p.openFds()));
        out.add(gauge("process_max_fds", "Maximum number of open file descriptors", p.maxFds()));
        return new MetricSnapshots(out);
    }

    private static GaugeSnapshot gauge(String name, String help, double value) {
        return GaugeSnapshot.builder().name(name).help(help).dataPoint(GaugeDataPointSnapshot.builder().value(value).build()).build();
    }

    private static GaugeSnapshot byLabel(String name, String help, String label, Map<String, Integer> values) {
        GaugeSnapshot.Builder b = GaugeSnapshot.builder().name(name).help(help);
        values.forEach((k, v) -> b.dataPoint(GaugeDataPointSnapshot.builder().labels(Labels.of(label, k)).value(v).build()));
        return b.build();
    }

    private static HistogramSnapshot histogram(String name, String help, Snapshot.Histogram h) {
        double[] bounds = new double[h.bounds().length + 1];
        System.arraycopy(h.bounds(), 0, bounds, 0, h.bounds().length);
        bounds[bounds.length - 1] = Double.POSITIVE_INFINITY;
        return HistogramSnapshot.builder().name(name).unit(Unit.SECONDS).help(help)
                .dataPoint(HistogramDataPointSnapshot.builder().classicHistogramBuckets(ClassicHistogramBuckets.of(bounds, h.counts()))
                        .sum(h.sum()).build()).build();
    }
}
