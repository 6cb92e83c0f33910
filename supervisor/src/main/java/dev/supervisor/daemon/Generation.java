package dev.supervisor.daemon;

import java.util.ArrayList;
import java.util.List;

import dev.supervisor.daemon.upgrade.State.GenerationState;

/**
 * One set of workers started together from one config: STARTING → READY → DRAINING → EXITED,
 * or STARTING → FAILED → EXITED when it did not come up. Owned by the supervisor thread.
 */
final class Generation {
    enum State { STARTING, READY, DRAINING, FAILED, EXITED }

    final int number;
    final Config config;
    final List<Listener> listeners;
    /** The current worker of each slot; a restarted worker replaces its slot's entry. */
    final Worker[] slots;
    /** Every worker of this generation not yet reaped, restarted ones included. */
    final List<Worker> live = new ArrayList<>();
    final long startedNanos;
    State state = State.STARTING;
    /** When the reload that made this generation was taken up (= startedNanos for generation 1). */
    long requestedNanos;
    long readyNanos;
    /**
     * Reload time the workers did not account for: request to drain, minus the slowest worker's
     * own start-to-ready (from its spawn call until its READY=1 was read, or until its delay ended).
     */
    long overheadNanos = -1;
    Timer readyTimer;
    Timer priorityTimer;
    /** Its workers run at normal priority: it got ready, or was starting for too long (--starting-priority-for). */
    boolean raised;
    Timer drainTimer;
    /** Per slot: when its next restart is due (0 = none waiting), the restarts so far, and how its last worker ended. */
    final long[] restartDueNanos;
    /** Per slot: the backoff its waiting restart goes on with (an upgrade hands it over). */
    final Backoff[] restartBackoffs;
    final int[] restarts;
    final String[] lastExit;
    /** Every worker's environment but SUPERVISOR_WORKER; built by the first spawn. */
    Environment env;

    Generation(int number, Config config, List<Listener> listeners, long startedNanos) {
        this.number = number;
        this.config = config;
        this.listeners = listeners;
        this.slots = new Worker[config.workers];
        this.restartDueNanos = new long[config.workers];
        this.restartBackoffs = new Backoff[config.workers];
        this.restarts = new int[config.workers];
        this.lastExit = new String[config.workers];
        this.startedNanos = startedNanos;
        this.requestedNanos = startedNanos;
    }

    /** What the next image needs of it, but its workers; {@code sockets}: every socket, as the state lists them. */
    GenerationState save(List<Listener.Socket> sockets) {
        GenerationState gs = new GenerationState();
        gs.number = number;
        gs.state = state.name();
        gs.config = config.text();
        for (Listener l : listeners) {
            gs.listenerNames.add(l.name());
            gs.listenerSockets.add(sockets.indexOf(l.socket));
        }
        gs.startedNanos = startedNanos;
        gs.requestedNanos = requestedNanos;
        gs.readyNanos = readyNanos;
        gs.overheadNanos = overheadNanos;
        gs.readyTimeoutNanos = due(readyTimer);
        gs.drainTimeoutNanos = due(drainTimer);
        gs.raised = raised;
        gs.restartDueNanos = restartDueNanos.clone();
        gs.restartBackoffMillis = new long[slots.length];
        for (int slot = 0; slot < slots.length; slot++) {
            gs.restartBackoffMillis[slot] = restartBackoffs[slot] == null ? 0 : restartBackoffs[slot].lastMillis();
        }
        gs.restarts = restarts.clone();
        gs.lastExit = lastExit.clone();
        return gs;
    }

    private static long due(Timer t) {
        return t == null || t.cancelled ? 0 : t.dueNanos;
    }

    /** The generation the previous image saved as {@code gs}, without its workers and timers. */
    static Generation restored(GenerationState gs, Config config, List<Listener> listeners) {
        Generation g = new Generation(gs.number, config, listeners, gs.startedNanos);
        g.state = State.valueOf(gs.state);
        g.requestedNanos = gs.requestedNanos;
        g.readyNanos = gs.readyNanos;
        g.overheadNanos = gs.overheadNanos;
        g.raised = gs.raised;
        System.arraycopy(gs.restarts, 0, g.restarts, 0, g.restarts.length);
        System.arraycopy(gs.lastExit, 0, g.lastExit, 0, g.lastExit.length);
        return g;
    }

    boolean allReady() {
        for (Worker w : slots) {
            if (w == null || w.state != Worker.State.READY) {
                return false;
            }
        }
        return true;
    }

    @Override
    public String toString() {
        return "generation " + number;
    }
}
