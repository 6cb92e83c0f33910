package dev.supervisor.daemon;

import java.util.List;

/**
 * The seam between the supervisor's state machine and real processes. {@link PosixSpawner} starts
 * real children; unit tests use a fake that exits, hangs or crashes on cue.
 */
public interface Spawner {

    /** What one worker is started with. */
    final class Spec {
        /** COMMAND and its arguments, as exec gets them. */
        final List<byte[]> argv;
        final Environment env;
        final List<Listener> listeners;
        /** Index into {@link #listeners} that also goes on fd 0, or -1. */
        final int stdinListener;
        /** Prefix of every output line, "[gen.worker pid]" without the pid. */
        final int generation;
        final int slot;

        Spec(List<byte[]> argv, Environment env, List<Listener> listeners, int stdinListener, int generation, int slot) {
            this.argv = argv;
            this.env = env;
            this.listeners = listeners;
            this.stdinListener = stdinListener;
            this.generation = generation;
            this.slot = slot;
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
