package dev.supervisor.daemon;

import java.util.List;
import java.util.function.Consumer;

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
        /** Generation number and slot: SUPERVISOR_GENERATION/WORKER and the "[gen.worker pid]" output prefix. */
        final int generation;
        final int slot;
        /** The CPU priority the worker starts at, until {@link Process#raisePriority}. */
        final Priority starting;

        Spec(List<byte[]> argv, Environment env, List<Listener> listeners, int stdinListener, int generation, int slot,
                Priority starting) {
            this.argv = argv;
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
     * (it is not reaped yet: the supervisor thread calls {@link Process#reap}). {@code onNotify}
     * gets, on any thread, every sd_notify message sent to this worker's own NOTIFY_SOCKET (by
     * the worker or any process it started), until it is reaped.
     *
     * @throws SpawnException when the process could not be started
     */
    Process spawn(Spec spec, Runnable onExit, NotifySocket.Receiver onNotify);

    /**
     * What of a worker crosses an upgrade's exec: the read ends of its output pipes and its
     * NOTIFY_SOCKET (-1 = closed), and whether it has been reaped (its tree may live on).
     */
    record Kept(int stdoutFd, int stderrFd, int notifyFd, String notifyPath, boolean reaped) {}

    /**
     * Takes up a worker the previous image started, with what it {@link Process#kept}: as
     * {@link #spawn}, without starting anything.
     */
    Process adopt(int pid, int generation, int slot, Kept kept, Runnable onExit, NotifySocket.Receiver onNotify);

    /**
     * Stops reading the workers' output and notify sockets, so that what is unread stays in their
     * fds for the next image; false when the threads did not stop in time (then call {@link #resume}).
     */
    boolean pause();

    void resume();

    /** Notify sockets named so far (see {@link NotifySocket#named}). */
    long notifySockets();

    /** The previous image named {@code n} notify sockets. */
    void notifySocketsBefore(long n);

    /**
     * Looks at every worker's process tree again: reaps the orphans of it that ended, finds new
     * descendants. The supervisor calls it periodically and before it decides a worker has gone.
     */
    void refresh();

    /** KILLs the processes that re-parented to us but belong to no worker, with their descendants; returns how many. */
    int killStrays();

    /** A started worker process. Only the supervisor thread calls these. */
    interface Process {
        int pid();

        /** Sends {@code signal} to every process of the worker's tree (its group and the descendants that left it). */
        void signal(int signal);

        /** SIGKILL to every process of the worker's tree, so no descendant keeps a listener. */
        void kill();

        /** Raises every thread of the worker's process tree from its starting priority to normal. */
        void raisePriority();

        /** Reaps the exited worker process and returns its wait status (see {@link ExitStatus}); its NOTIFY_SOCKET closes. */
        int reap();

        /** Its fds for the next image; only while {@link #pause}d. */
        Kept kept();

        /** True while any process of the worker's tree is left: the worker itself or a descendant, as last seen. */
        boolean alive();

        /**
         * Gives {@code then}, on any thread (the caller's when they are all in), the last lines the process wrote to stderr, oldest
         * first, once its stderr has ended (or shortly after, if a descendant holds it open).
         */
        void stderrTail(Consumer<List<String>> then);
    }

    /** A worker that could not be started. */
    final class SpawnException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public SpawnException(String message) {
            super(message);
        }
    }
}
