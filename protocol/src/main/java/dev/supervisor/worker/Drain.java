package dev.supervisor.worker;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

import dev.supervisor.protocol.Wire;
import sun.misc.Signal;

/**
 * The moment this worker is told to drain, and what runs then. It starts once, from the drain
 * signal or from {@link #start}; every action runs once, even one added after the start.
 */
final class Drain {
    /** The supervisor's default --drain-signal. */
    static final String DEFAULT_SIGNAL = "TERM";

    private final AtomicBoolean started = new AtomicBoolean();
    /** Guarded by this. */
    private boolean listening;
    private final List<Once> actions = new CopyOnWriteArrayList<>();

    /** Adds {@code action}; runs it now if the drain has already started. */
    void add(Runnable action) {
        Once once = new Once(action);
        actions.add(once);
        if (started.get()) {
            once.run();
        }
    }

    /** Starts the drain unless it has started: {@code first}, then every action. */
    void start(Runnable first) {
        if (!started.compareAndSet(false, true)) {
            return;
        }
        try {
            first.run();
        } finally {
            actions.forEach(Once::run);
        }
    }

    /**
     * From now on the drain signal named in {@code env} (SUPERVISOR_DRAIN_SIGNAL, default TERM)
     * calls {@code onSignal}, instead of whatever it did before (for TERM: stopping the JVM).
     * Does nothing after the first call; true on the first.
     *
     * @throws IllegalStateException when the JVM cannot handle that signal (QUIT, KILL, ...)
     */
    synchronized boolean listen(Map<String, String> env, Runnable onSignal) {
        if (listening) {
            return false;
        }
        String name = signalName(env);
        try {
            Signal.handle(new Signal(name), s -> onSignal.run());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(Wire.SUPERVISOR_DRAIN_SIGNAL + "=" + env.get(Wire.SUPERVISOR_DRAIN_SIGNAL)
                    + ": a JVM cannot handle SIG" + name + " (" + e.getMessage() + "); use TERM, HUP, INT, USR1 or USR2");
        }
        listening = true;
        return true;
    }

    /** "TERM" for SUPERVISOR_DRAIN_SIGNAL unset, "USR1" for "USR1" or "SIGUSR1". */
    static String signalName(Map<String, String> env) {
        String value = env.get(Wire.SUPERVISOR_DRAIN_SIGNAL);
        if (value == null || value.isBlank()) {
            return DEFAULT_SIGNAL;
        }
        String name = value.trim().toUpperCase(Locale.ROOT);
        name = name.startsWith("SIG") ? name.substring(3) : name;
        if (!name.matches("[A-Z][A-Z0-9]*")) {
            throw new IllegalStateException(Wire.SUPERVISOR_DRAIN_SIGNAL + "=" + value + ": expected a signal name such as TERM or USR1");
        }
        return name;
    }

    /** An action that runs at most once; a failure is reported and does not stop the others. */
    private static final class Once {
        private final Runnable action;
        private final AtomicBoolean ran = new AtomicBoolean();

        Once(Runnable action) {
            this.action = action;
        }

        void run() {
            if (!ran.compareAndSet(false, true)) {
                return;
            }
            try {
                action.run();
            } catch (RuntimeException e) {
                Thread t = Thread.currentThread();
                t.getUncaughtExceptionHandler().uncaughtException(t, e);
            }
        }
    }
}
