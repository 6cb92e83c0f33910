package dev.supervisor.cli;

import java.io.IOException;

import dev.supervisor.daemon.Address;
import dev.supervisor.daemon.Log;
import dev.supervisor.daemon.Supervisor;
import dev.supervisor.daemon.metrics.MetricsServer;
import dev.supervisor.daemon.upgrade.Version;

/**
 * {@code --metrics ADDR}, or nothing. The one place {@code run} names the metrics server: without
 * the option nothing is bound and neither it, the JDK's HTTP server nor the Prometheus client is
 * loaded.
 */
final class Metrics implements AutoCloseable {
    /** Null without --metrics. */
    private final MetricsServer server;
    private boolean closed;

    private Metrics(MetricsServer server) {
        this.server = server;
    }

    /** Binds {@code address} now, so that a port in use is reported before anything runs; null = no metrics. */
    static Metrics bind(Address address) throws IOException {
        return new Metrics(address == null ? null : MetricsServer.bind(address));
    }

    /** An upgrade's pre-flight: with {@code address}, the metrics server's classes load and work. */
    static void check(Address address) throws IOException {
        if (address != null) {
            try {
                MetricsServer.checkLoadable(Version.current());
            } catch (LinkageError | RuntimeException e) {
                throw new IllegalStateException("the metrics server (--metrics " + address + ") does not load: " + e, e);
            }
        }
    }

    /** No metrics (an upgraded image that could not bind them again). */
    static Metrics none() {
        return new Metrics(null);
    }

    void start(Supervisor supervisor, Log log) {
        if (server != null) {
            server.start(supervisor::snapshot, Version.current());
            log.info("metrics " + server.bound() + "/metrics");
        }
    }

    /** Stops serving; once, however often it is called. */
    @Override
    public void close() {
        if (server != null && !closed) {
            closed = true;
            server.close();
        }
    }
}
