package dev.supervisor.daemon.upgrade;

import java.util.ArrayList;
import java.util.List;

/**
 * What one supervisor image hands to the next across execve(2): everything the new image needs to
 * own the sockets, the workers and the pending deadlines as if it had made them. Plain data,
 * written by {@link StateWriter} and read by {@link StateReader}; {@link #FORMAT} changes with any
 * change to these fields.
 *
 * <p>Times: {@link #monotonicNanos} is CLOCK_MONOTONIC when the document was written (both images
 * read the same clock); every {@code ...AgeNanos} is how long before that something happened and
 * every {@code ...RemainingNanos} how long after it a deadline falls (-1 = none). A deadline that
 * passed during the exec fires as soon as the new image runs.
 */
public final class State {
    /** The format this build writes and reads. */
    public static final int FORMAT = 1;

    public int format;
    /** The version of the image that wrote it. */
    public String version;
    public long monotonicNanos;
    /** Since the supervisor started (the first image): uptime survives upgrades. */
    public long startedAgeNanos;
    /** Upgrades since start, this one included. */
    public int upgrades;
    public int lastGeneration;
    /** Generation numbers; 0 = none. */
    public int serving;
    /** The config in force, as a config file (reloads start from it when no --config is given). */
    public String config;
    /** A reload asked for (by SIGHUP) while the upgrade ran: it runs once the new image serves. */
    public boolean pendingReload;
    /** Reload counters (outcomes), carried as they are. */
    public long reloadsOk;
    public long reloadsFailed;
    /**
     * Signals the writer held back (blocked and ignored) across the exec, so that one sent then
     * does not end the process: the reader gives them their handlers back and unblocks them.
     */
    public List<Integer> heldSignals = new ArrayList<>();
    public List<ListenerState> listeners = new ArrayList<>();
    public List<GenerationState> generations = new ArrayList<>();
    public ControlState control = new ControlState();

    /** A bound socket, kept open across the exec. */
    public static final class ListenerState {
        public String name;
        /** As written in a config ("tcp://127.0.0.1:8080"). */
        public String address;
        public int fd;
        public String bound;
        public boolean inherited;
    }

    public static final class GenerationState {
        public int number;
        /** STARTING, READY, DRAINING or FAILED. */
        public String state;
        /** Its config, as a config file. */
        public String config;
        /** Names of its listeners, in fd order. */
        public List<String> listeners = new ArrayList<>();
        public long startedAgeNanos;
        public long requestedAgeNanos;
        /** -1 = not ready. */
        public long readyAgeNanos = -1;
        public long overheadNanos = -1;
        public long readyRemainingNanos = -1;
        public long drainRemainingNanos = -1;
        /** Every worker not reaped yet. */
        public List<WorkerState> workers = new ArrayList<>();
        /** Restarts of crashed workers waiting for their backoff. */
        public List<RestartState> restarts = new ArrayList<>();
    }

    public static final class WorkerState {
        public int slot;
        public int pid;
        /** Whether it is the current worker of its slot (an older one may still drain). */
        public boolean current;
        /** STARTING, READY or DRAINING. */
        public String state;
        public long startedAgeNanos;
        public long readyAgeNanos = -1;
        public int restarts;
        public String status;
        public boolean stopping;
        public boolean killedAtDrainTimeout;
        /** The backoff of its slot: the last delay, 0 = none yet. */
        public long backoffMillis;
        /** Read ends of its output pipes; -1 = already at EOF. */
        public int stdoutFd = -1;
        public int stderrFd = -1;
        public List<String> stderrTail = new ArrayList<>();
    }

    public static final class RestartState {
        public int slot;
        public long remainingNanos;
        public long backoffMillis;
    }

    /** The control and notify sockets, and the control connections open at the exec. */
    public static final class ControlState {
        public int serverFd = -1;
        public int notifyFd = -1;
        public List<ConnectionState> connections = new ArrayList<>();
    }

    public static final class ConnectionState {
        public int fd;
        public int pid;
        public boolean controls;
        public boolean watching;
        /** Requests read and not answered yet, in order: the new image answers them. */
        public List<String> inFlight = new ArrayList<>();
        /** Bytes read and not yet parsed (the start of the next request), base64. */
        public String unread = "";
        /** Bytes of answers not yet written, base64. */
        public String unwritten = "";
    }
}
