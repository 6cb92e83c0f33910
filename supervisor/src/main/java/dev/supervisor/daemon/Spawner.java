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

        Spec(List<String> command, Map<String, String> env, List<Listener> listeners, int stdinListener, int generation, int slot) {
            this.command = command;
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

    /**
     * Takes over worker {@code pid}, started by the previous supervisor image, with the read ends
     * of its output pipes ({@code -1} = at EOF). {@code onExit} as for {@link #spawn}.
     */
    default Process adopt(int pid, int stdoutFd, int stderrFd, List<String> stderrTail, int generation, int slot, Runnable onExit) {
        throw new UnsupportedOperationException("this spawner cannot adopt workers");
    }

    /** Stops reading worker output until {@link #thaw}, so that its fds can be handed to the next image. */
    default void freeze() {}

    default void thaw() {}

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

        /** The read ends of its stdout and stderr pipes while open, else -1; read while frozen. */
        default int[] outputFds() {
            return new int[] {-1, -1};
        }

        /** The stderr lines kept so far, without waiting for EOF. */
        default List<String> stderrKept() {
            return List.of();
        }
    }

    /** A worker that could not be started. */
    final class SpawnException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public SpawnException(String message) {
            super(message);
        }
    }
}
