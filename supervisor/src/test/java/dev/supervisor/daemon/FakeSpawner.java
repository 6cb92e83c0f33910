package dev.supervisor.daemon;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import dev.supervisor.protocol.Libc;

/** Processes that exist only in memory: they exit, hang or ignore signals on cue. */
final class FakeSpawner implements Spawner {
    final AtomicInteger nextPid = new AtomicInteger(1000);
    final List<Fake> started = new CopyOnWriteArrayList<>();
    final Map<Integer, Fake> byPid = new ConcurrentHashMap<>();
    /** When set, workers of this generation ignore the drain signal. */
    volatile int ignoreDrainGeneration = -1;
    /** When set, a worker's last stderr lines are held until {@link #releaseTails}, as a pipe not yet at its end. */
    volatile boolean holdTails;
    private final List<Runnable> heldTails = new CopyOnWriteArrayList<>();
    /** When set, spawning fails with this message. */
    volatile String failSpawn;

    final class Fake implements Process {
        final int pid;
        final Spec spec;
        final Runnable onExit;
        final NotifySocket.Receiver onNotify;
        final List<Integer> signals = new CopyOnWriteArrayList<>();
        volatile Integer status;
        volatile boolean reaped;
        /** Processes of its tree besides itself that outlive it until KILLed. */
        volatile int descendants;
        volatile boolean raised;

        Fake(Spec spec, Runnable onExit, NotifySocket.Receiver onNotify) {
            this(nextPid.getAndIncrement(), spec, onExit, onNotify);
        }

        Fake(int pid, Spec spec, Runnable onExit, NotifySocket.Receiver onNotify) {
            this.pid = pid;
            this.spec = spec;
            this.onExit = onExit;
            this.onNotify = onNotify;
        }

        /** {@code text} arrives on this worker's NOTIFY_SOCKET from process {@code sender}. */
        void notify(String text, long sender) {
            onNotify.message(text, System.nanoTime(), sender);
        }

        @Override
        public int pid() {
            return pid;
        }

        @Override
        public void signal(int signal) {
            signals.add(signal);
            if (spec.generation != ignoreDrainGeneration) {
                exit(ExitStatus.ofSignal(signal));
            }
        }

        @Override
        public void kill() {
            signals.add(Libc.SIGKILL);
            descendants = 0;
            exit(ExitStatus.ofSignal(Libc.SIGKILL));
        }

        /** The process ends with {@code waitStatus}; the exit hook fires as the real one would. */
        synchronized void exit(int waitStatus) {
            if (status == null) {
                status = waitStatus;
                onExit.run();
            }
        }

        @Override
        public void raisePriority() {
            raised = true;
        }

        @Override
        public int reap() {
            reaped = true;
            return status;
        }

        @Override
        public boolean alive() {
            return status == null || descendants > 0;
        }

        @Override
        public Kept kept() {
            return new Kept(-1, -1, -1, null, reaped);
        }

        @Override
        public void stderrTail(Consumer<List<String>> then) {
            Runnable give = () -> then.accept(List.of("last words of " + pid));
            if (holdTails) {
                heldTails.add(give);
            } else {
                give.run();
            }
        }
    }

    @Override
    public Process spawn(Spec spec, Runnable onExit, NotifySocket.Receiver onNotify) {
        if (failSpawn != null) {
            throw new SpawnException(failSpawn);
        }
        Fake f = new Fake(spec, onExit, onNotify);
        started.add(f);
        byPid.put(f.pid, f);
        return f;
    }

    /** Workers taken up from a previous image: the same pids, as fakes of this spawner. */
    @Override
    public Process adopt(int pid, int generation, int slot, Kept kept, Runnable onExit, NotifySocket.Receiver onNotify) {
        Spec spec = new Spec(List.of(), null, List.of(), -1, generation, slot, Priority.NORMAL);
        Fake f = new Fake(pid, spec, onExit, onNotify);
        f.reaped = kept.reaped();
        started.add(f);
        byPid.put(pid, f);
        return f;
    }

    /** Set: the output and notify threads do not stop (an upgrade fails). */
    volatile boolean stuck;
    volatile boolean paused;
    volatile long notifySockets;

    @Override
    public boolean pause() {
        paused = !stuck;
        return !stuck;
    }

    @Override
    public void resume() {
        paused = false;
    }

    @Override
    public long notifySockets() {
        return notifySockets;
    }

    @Override
    public void notifySocketsBefore(long n) {
        notifySockets = n;
    }

    @Override
    public void refresh() {
        // no process trees in memory
    }

    @Override
    public int killStrays() {
        return 0;
    }

    /** The held stderr tails arrive now. */
    void releaseTails() {
        holdTails = false;
        heldTails.forEach(Runnable::run);
        heldTails.clear();
    }

    List<Fake> ofGeneration(int generation) {
        List<Fake> out = new ArrayList<>();
        for (Fake f : started) {
            if (f.spec.generation == generation) {
                out.add(f);
            }
        }
        return out;
    }
}
