package dev.supervisor.daemon;

/** The supervisor's own log lines, on stderr, each "supervisor: ...", through a valve that never blocks the logger. */
public interface Log {
    void info(String message);

    Log STDERR = message -> OutputValve.STDERR.logLine("supervisor: " + message);
}
