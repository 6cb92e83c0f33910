package dev.supervisor.spring;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * A stop's wait until no connection is owed an answer, within a bound. Whatever changes what is
 * owed (a request read, a connection closed) calls {@link #changed}, which takes no lock unless a
 * stop is waiting, so serving pays nothing for it.
 */
final class OwedWait {
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private volatile boolean awaiting;

    /** Waits until {@code owed} is false or {@code timeoutMillis} passed; true when nothing is owed. */
    boolean await(BooleanSupplier owed, long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        lock.lock();
        awaiting = true; // before the first look, so that no change after it goes unsignalled
        try {
            while (owed.getAsBoolean()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                changed.awaitNanos(left);
            }
            return true;
        } finally {
            awaiting = false;
            lock.unlock();
        }
    }

    void changed() {
        if (!awaiting) {
            return;
        }
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
