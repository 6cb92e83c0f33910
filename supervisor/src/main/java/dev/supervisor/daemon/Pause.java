package dev.supervisor.daemon;

/**
 * Stops a poll thread between two rounds and lets it go on: an upgrade's hand-over needs what the
 * thread has not read yet to stay in its fds, for the next image to read.
 */
final class Pause {
    private boolean requested;
    private boolean parked;

    /** Asks the thread to stop at its next {@link #checkpoint}; the caller then wakes it from its poll. */
    synchronized void request() {
        requested = true;
    }

    /** Waits, at most {@code millis}, until the thread has stopped; false when it has not. */
    synchronized boolean awaitParked(long millis) throws InterruptedException {
        long end = System.nanoTime() + millis * 1_000_000;
        while (!parked) {
            long left = (end - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                return false;
            }
            wait(left);
        }
        return true;
    }

    /** Whether a pause is asked for (the thread may not have stopped yet). */
    synchronized boolean requested() {
        return requested;
    }

    synchronized void resume() {
        requested = false;
        notifyAll();
    }

    /** The poll thread, between two rounds: stays here while a pause is asked for. */
    synchronized void checkpoint() {
        checkpoint(() -> { });
    }

    /** {@link #checkpoint()}, running {@code beforeStopping} first when it stops. */
    synchronized void checkpoint(Runnable beforeStopping) {
        if (!requested) {
            return;
        }
        beforeStopping.run();
        parked = true;
        notifyAll();
        try {
            while (requested) {
                wait();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            parked = false;
        }
    }
}
