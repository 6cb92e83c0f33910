package dev.supervisor.daemon;

import dev.supervisor.daemon.upgrade.State.WorkerState;

/** One worker process in a slot of a generation. Owned by the supervisor thread. */
final class Worker {
    enum State { STARTING, READY, DRAINING, EXITED }

    final Generation generation;
    final int slot;
    final Spawner.Process process;
    final long startedNanos;
    final Backoff backoff;
    State state = State.STARTING;
    long readyNanos;
    /** Last STATUS= the worker sent over NOTIFY_SOCKET. */
    String status;
    boolean stopping;
    /** KILLed by the supervisor because it outlived --drain-timeout: its end is no drain. */
    boolean killedAtDrainTimeout;
    /** KILLed by an immediate stop (a second TERM or INT): its end is no drain either. */
    boolean killedAtStop;
    int restarts;

    Worker(Generation generation, int slot, Spawner.Process process, long startedNanos, Backoff backoff) {
        this.generation = generation;
        this.slot = slot;
        this.process = process;
        this.startedNanos = startedNanos;
        this.backoff = backoff;
    }

    /** What the next image needs of it; {@code current}: it is its slot's worker. */
    WorkerState save(boolean current) {
        WorkerState ws = new WorkerState();
        ws.slot = slot;
        ws.pid = pid();
        ws.current = current;
        ws.state = state.name();
        ws.startedNanos = startedNanos;
        ws.readyNanos = readyNanos;
        ws.restarts = restarts;
        ws.status = status;
        ws.stopping = stopping;
        ws.killedAtDrainTimeout = killedAtDrainTimeout;
        ws.killedAtStop = killedAtStop;
        ws.backoffMillis = backoff.lastMillis();
        Spawner.Kept kept = process.kept();
        ws.stdoutFd = kept.stdoutFd();
        ws.stderrFd = kept.stderrFd();
        ws.notifyFd = kept.notifyFd();
        ws.notifyPath = kept.notifyPath();
        ws.reaped = kept.reaped();
        return ws;
    }

    /** The worker the previous image saved as {@code ws}, whose process this image took up as {@code process}. */
    static Worker restored(Generation generation, Spawner.Process process, WorkerState ws) {
        Worker w = new Worker(generation, ws.slot, process, ws.startedNanos, Backoff.resumed(ws.backoffMillis));
        w.state = State.valueOf(ws.state);
        w.readyNanos = ws.readyNanos;
        w.restarts = ws.restarts;
        w.status = ws.status;
        w.stopping = ws.stopping;
        w.killedAtDrainTimeout = ws.killedAtDrainTimeout;
        w.killedAtStop = ws.killedAtStop;
        return w;
    }

    int pid() {
        return process.pid();
    }

    @Override
    public String toString() {
        return "worker " + generation.number + "." + slot + " (pid " + pid() + ")";
    }
}
