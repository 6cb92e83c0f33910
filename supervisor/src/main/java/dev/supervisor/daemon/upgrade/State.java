package dev.supervisor.daemon.upgrade;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What one supervisor image hands to the next across execve(2): everything the new image needs to
 * own the sockets, the workers and the pending deadlines as if it had made them. Plain data,
 * written and read by {@link StateFile}; {@link #FORMAT} changes with any change to these fields.
 *
 * <p>Times are CLOCK_MONOTONIC nanoseconds (System.nanoTime), which both images read the same;
 * 0 = not reached. Deadlines that passed during the exec fire as soon as the new image runs.
 */
public final class State {
    /** The format this build writes and reads. */
    public static final int FORMAT = 1;

    public int format;
    /** The version of the image that wrote it. */
    public String version;
    /** When the document was written. */
    public long writtenNanos;
    /** When the first image started: uptime survives upgrades. */
    public long startedNanos;
    public long startedEpochMillis;
    /** Upgrades since start, this one included. */
    public int upgrades;
    public int lastGeneration;
    /** Generation numbers; 0 = none. */
    public int serving;
    /** The config in force: its file's bytes (null = flags only). */
    public byte[] config;
    /** A reload asked for (by a signal) while the upgrade ran: it runs once the new image serves. */
    public boolean pendingReload;
    public long workerRestarts;
    /** The reload history and counters, as {@code ReloadHistory} writes them. */
    public JsonNode history;
    /** Used by the workers' notify sockets so far: the next one is named after it. */
    public long notifySockets;
    public List<SocketState> sockets = new ArrayList<>();
    public List<GenerationState> generations = new ArrayList<>();
    public ControlState control = new ControlState();

    /** Every fd the document names (the ones that cross the exec), none twice. */
    public List<Integer> fds() {
        java.util.Set<Integer> fds = new java.util.LinkedHashSet<>();
        sockets.forEach(l -> fds.add(l.fd));
        fds.add(control.serverFd);
        control.connections.forEach(c -> fds.add(c.fd));
        for (GenerationState g : generations) {
            for (WorkerState w : g.workers) {
                fds.addAll(List.of(w.stdoutFd, w.stderrFd, w.notifyFd));
            }
        }
        fds.removeIf(fd -> fd < 0);
        return new ArrayList<>(fds);
    }

    /** A bound listening socket, kept open across the exec. */
    public static final class SocketState {
        public String name;
        /** As a config writes it ("127.0.0.1:8080"). */
        public String address;
        public int fd;
        public String bound;
        public boolean inherited;
        public boolean shutDown;
        public String shutDownBy;
        /** Shut down and replaced: kept only until the generations holding it are gone. */
        public boolean retired;
    }

    public static final class GenerationState {
        public int number;
        /** STARTING (generation 1 only), READY, DRAINING or FAILED. */
        public String state;
        /** Its config: its file's bytes (null = flags only). */
        public byte[] config;
        /** Its listeners in fd order: their names, and the index of each one's socket in {@link State#sockets}. */
        public List<String> listenerNames = new ArrayList<>();
        public List<Integer> listenerSockets = new ArrayList<>();
        public long startedNanos;
        public long requestedNanos;
        public long readyNanos;
        public long overheadNanos = -1;
        /** Due times; 0 = none. */
        public long readyTimeoutNanos;
        public long drainTimeoutNanos;
        public boolean raised;
        /** Per slot. */
        public long[] restartDueNanos;
        public long[] restartBackoffMillis;
        public int[] restarts;
        public String[] lastExit;
        /** Every worker not forgotten yet (an exited one may have processes left). */
        public List<WorkerState> workers = new ArrayList<>();
    }

    public static final class WorkerState {
        public int slot;
        public int pid;
        /** Whether it is the current worker of its slot (an older one may still drain). */
        public boolean current;
        /** STARTING, READY, DRAINING or EXITED (reaped, its tree not gone yet). */
        public String state;
        public long startedNanos;
        public long readyNanos;
        public int restarts;
        public String status;
        public boolean stopping;
        public boolean killedAtDrainTimeout;
        public boolean killedAtStop;
        public long backoffMillis;
        /** Reaped already: what is left of its tree keeps it listed. */
        public boolean reaped;
        /** Read ends of its output pipes; -1 = at EOF. */
        public int stdoutFd = -1;
        public int stderrFd = -1;
        /** Its NOTIFY_SOCKET; -1 = closed (reaped). */
        public int notifyFd = -1;
        public String notifyPath;
    }

    /** The control socket and the control connections open at the exec. */
    public static final class ControlState {
        public int serverFd = -1;
        public List<ConnectionState> connections = new ArrayList<>();
    }

    public static final class ConnectionState {
        public int fd;
        public int pid;
        /** CONTROL or WORKER. */
        public String access;
        /** The worker pid whose drain event it waits for; 0 = none. */
        public int watching;
        public boolean closeAfterWrite;
        /** Requests read and not answered yet, in order: the new image answers them. */
        public List<String> inFlight = new ArrayList<>();
        /** Read and not parsed yet (the start of the next request). */
        public byte[] unread = new byte[0];
        /** Answers not written yet. */
        public byte[] unwritten = new byte[0];
    }
}
