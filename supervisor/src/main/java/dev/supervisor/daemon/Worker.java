package dev.supervisor.daemon;

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

    int pid() {
        return process.pid();
    }

    @Override
    public String toString() {
        return "worker " + generation.number + "." + slot + " (pid " + pid() + ")";
    }
}
