package dev.supervisor.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * A server under test that can be reloaded: supervisor over some worker, or nginx, HAProxy,
 * gunicorn with their own reload. Each is configured in its own temp directory on a loopback port,
 * never with the system's configuration.
 */
interface Target extends AutoCloseable {
    /** Row label, e.g. "supervisor + lighttpd". */
    String name();

    /** How a reload is asked for, e.g. "control socket reload", "SIGHUP". */
    String reloadMethod();

    /** Starts it; returns once it serves. */
    void start() throws IOException;

    InetSocketAddress address();

    /** The long-lived process: the supervisor's JVM, nginx's or HAProxy's master, gunicorn's arbiter. */
    long pid();

    /** Asks for a reload and returns once the target says the new generation serves (or the reload failed). */
    Reload reload();

    /** The output of the long-lived process, stamped with the bench clock. */
    Proc proc();

    @Override
    void close();

    /**
     * One reload: when it was asked for and when the target said it was done ({@link Clock} ns),
     * the new generation's number (supervisor) or its worker pids (the others).
     */
    record Reload(int index, boolean ok, long requestedNanos, long doneNanos, int generation, List<Integer> newPids, String error) {
        long durationNanos() {
            return doneNanos - requestedNanos;
        }
    }
}
