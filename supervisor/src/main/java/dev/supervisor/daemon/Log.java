package dev.supervisor.daemon;

/** The supervisor's own log lines, on stderr, each "supervisor: ...". */
public interface Log {
    void info(String message);

    Log STDERR = message -> System.err.println("supervisor: " + message);
}
