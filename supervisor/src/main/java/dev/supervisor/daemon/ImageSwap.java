package dev.supervisor.daemon;

import java.io.IOException;

import dev.supervisor.daemon.upgrade.State;

/**
 * What the supervisor needs from outside to upgrade itself: a check of the installation it would
 * execute, the control socket's part of the state, and the exec. The supervisor thread calls these
 * in that order; {@link #check} runs on a thread of its own.
 */
public interface ImageSwap {
    /** Runs the new installation in its check mode; null when it passed, else why not. Blocks. */
    String check();

    /** Stops the control socket's thread and returns its socket and open connections. */
    State.ControlState freezeControl() throws IOException;

    /** After a failed exec: the control socket serves again. */
    void thawControl();

    /** Executes the new image with {@code s}; returns only by throwing, with everything as it was. */
    void exec(State s) throws IOException;
}
