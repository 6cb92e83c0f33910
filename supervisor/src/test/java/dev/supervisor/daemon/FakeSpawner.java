package dev.supervisor.daemon;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/** Processes that exist only in memory: they exit, hang or ignore signals on cue. */
final class FakeSpawner implements Spawner {
    final AtomicInteger nextPid = new AtomicInteger(1000);
    final List<Fake> started = new CopyOnWriteArrayList<>();
    final Map<Integer, Fake> byPid = new ConcurrentHashMap<>();
    /** When set, workers of this generation ignore the drain signal. */
    volatile int ignoreDrainGeneration = -1;
    /** When set, spawning fails with this message. */
    volatile String failSpawn;

    final class Fake implements Process {
        final int pid = nextPid.getAndIncrement();
        final Spec spec;
        final Runnable onExit;
        final List<Integer> signals = new CopyOnWriteArrayList<>();
        volatile Integer status;
        volatile boolean reaped;
        volatile boolean raised;

        Fake(Spec spec, Runnable onExit) {
            this.spec = spec;
            this.onExit = onExit;
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
        public void killGroup() {
            signals.add(Posix.SIGKILL);
            exit(ExitStatus.ofSignal(Posix.SIGKILL));
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
        public List<String> stderrTail() {
            return List.of("last words of " + pid);
        }
    }

    @Override
    public Process spawn(Spec spec, Runnable onExit) {
        if (failSpawn != null) {
            throw new SpawnException(failSpawn);
        }
        Fake f = new Fake(spec, onExit);
        started.add(f);
        byPid.put(f.pid, f);
        return f;
    }

    List<Fake> ofGeneration(int generation) {
        List<Fake> out = new ArrayList<>();
        for (Fake f : started) {
            if (f.spec.generation == generation) {
                out.add(f);
            }
        }
        out.sort(java.util.Comparator.comparingInt(f -> f.spec.slot)); // spawns run in parallel
        return out;
    }
}
