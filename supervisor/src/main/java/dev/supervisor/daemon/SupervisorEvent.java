package dev.supervisor.daemon;

/**
 * A transition of the supervisor's state, as data: what tests assert on (not log wording), and
 * what an observer such as metrics can count. {@code generation} and {@code slot} are -1 when
 * they do not apply; {@code detail} is a delay in ms, an exit status or a listener name.
 */
public record SupervisorEvent(Kind kind, int generation, int slot, String detail) {
    public enum Kind {
        WORKER_STARTED, WORKER_READY, WORKER_EXITED, WORKER_KILLED_AT_DRAIN_TIMEOUT, RESTART_SCHEDULED,
        GENERATION_READY, GENERATION_DRAINING, GENERATION_FAILED, GENERATION_EXITED,
        RELOAD_MERGED, LISTENER_CLOSED, STOPPING, STOPPED
    }
}
