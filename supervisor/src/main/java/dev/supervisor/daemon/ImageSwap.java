package dev.supervisor.daemon;

import java.io.IOException;
import java.util.function.Supplier;

import dev.supervisor.daemon.upgrade.State;

/**
 * What the supervisor needs from outside to upgrade itself: a check of the installation it would
 * execute, the control socket's part of the state, and the exec. The supervisor thread calls these
 * in that order; {@link #check} runs on a thread of its own.
 */
public interface ImageSwap {
    /**
     * Runs the new installation in its check mode on {@code sample} (this image's state without its
     * fds); null when it passed, else why not. Blocks.
     */
    String check(byte[] sample);

    /** Stops the control socket's thread and returns its socket and open connections. */
    State.ControlState freezeControl() throws IOException;

    /** After a failed exec: the control socket serves again. */
    void thawControl();

    /**
     * Holds the signals the supervisor handles, then executes the new image with the state
     * {@code state} gives (on this thread, with those signals held). Returns only when
     * {@code state} gave null (the supervisor is stopping), or by throwing; either way with
     * everything as it was.
     */
    void exec(Supplier<State> state) throws IOException;
}
