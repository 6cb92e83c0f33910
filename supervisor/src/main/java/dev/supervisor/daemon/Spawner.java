package dev.supervisor.daemon;

import java.util.List;
import java.util.Map;

/**
 * The seam between the supervisor's state machine and real processes. {@link PosixSpawner} starts
 * real children; unit tests use a fake that exits, hangs or crashes on cue.
 */
public interface Spawner {

    /** What one worker is started with. */
    final class Spec {
        final List<String> command;
        final Map<String, String> env;
        final List<Listener> listeners;
        /** Index into {@link #listeners} that also goes on fd 0, or -1. */
        final int stdinListener;
        /** Prefix of every output line, "[gen.worker pid]" without the pid. */
        final int generation;
        final int slot;
        /** The CPU priority the worker starts at, until {@link Process#raisePriority}. */
        final Priority starting;

        Spec(List<String> command, Map<String, String> env, List<Listener> listeners, int stdinListener, int generation, int slot,
                Priority starting) {
            this.command = command;
            this.env = env;
            this.listeners = listeners;
            this.stdinListener = stdinListener;
            this.generation = generation;
            this.slot = slot;
            this.starting = starting;
        }
    }

    /**
     * Starts a worker. {@code onExit} runs once, on any thread, after the process has exited
     * (it is not reaped yet: the supervisor thread calls {@link Process#reap}).
     *
     * @throws SpawnException when the process could not be started
     */
    Process spawn(Spec spec, Runnable onExit);

    /** A started worker process. Only the supervisor thread calls these. */
    interface Process {
        int pid();

        /** Sends {@code signal} to the process itself. */
        void signal(int signal);

        /** SIGKILL to the worker's whole process group, so no child keeps a listener. */
        void killGroup();

        /** Raises every thread of the worker's process tree from its starting priority to normal. */
        void raisePriority();

        /** Reaps the exited process and returns its wait status (see {@link ExitStatus}). */
        int reap();

        /** The last lines the process wrote to stderr, oldest first. */
        List<String> stderrTail();
    }

    /** A worker that could not be started. */
    final class SpawnException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public SpawnException(String message) {
            super(message);
        }
    }
}
