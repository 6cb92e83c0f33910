package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.daemon.upgrade.State;
import dev.supervisor.daemon.upgrade.StateFile;
import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.Wire;

/**
 * An upgrade on fake processes and a fake clock: it waits for a running reload, holds reloads asked
 * for meanwhile, changes nothing when it fails, and hands over a state from which a second
 * supervisor owns the workers as if it had started them: drain timeouts, restarts, reloads.
 */
class SupervisorUpgradeTest {
    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final List<String> log = new ArrayList<>();
    private final Config config = config();

    /** Holds the check until released; its exec hands the state over (through the document) and fails. */
    private final class FakeSwap implements ImageSwap {
        final CountDownLatch release = new CountDownLatch(1);
        volatile String failure;
        volatile int checks;
        volatile State handed;
        volatile boolean thawed;
        /** Runs as the exec holds the signals: what was queued just before. */
        volatile Runnable beforeExec = () -> { };

        @Override
        public String check(byte[] sample) {
            checks++;
            Supervisor.check(StateFile.fromBytes(sample), text -> config); // the sample is a state this build takes over
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return failure;
        }

        @Override
        public State.ControlState freezeControl() {
            return new State.ControlState();
        }

        @Override
        public void thawControl() {
            thawed = true;
        }

        @Override
        public void exec(Supplier<State> state) throws IOException {
            beforeExec.run();
            State s = state.get();
            if (s == null) {
                return;
            }
            handed = StateFile.fromBytes(StateFile.toBytes(s));
            throw new IOException("exec refused by the test");
        }
    }

    private static Config config() {
        Config.Flags f = new Config.Flags();
        f.listen = List.of("web=127.0.0.1:0");
        f.command = List.of("worker".getBytes(StandardCharsets.UTF_8));
        f.workers = 2;
        f.ready = "notify";
        f.drainTimeout = "300ms";
        f.readyTimeout = "2s";
        return Config.load(null, f);
    }

    private Supervisor supervisor(FakeSpawner spawner, FakeSwap swap) {
        Supervisor s = new Supervisor(spawner, (name, a) -> new Listener(name, a, -1, a.toString()), () -> config,
                Environment.of(Map.of("PATH", "/bin")), Map.of(), log::add);
        s.useClock(now::get);
        s.upgradeWith(swap, text -> config);
        return s;
    }

    private Supervisor started(FakeSpawner spawner, FakeSwap swap) {
        Supervisor s = supervisor(spawner, swap);
        s.begin(s.bind(config));
        s.step();
        spawner.ofGeneration(1).forEach(f -> f.notify(Wire.READY, f.pid));
        s.step();
        return s;
    }

    /** Steps the loop until {@code done}: the check answers from its own thread. */
    private static void stepUntil(Supervisor s, BooleanSupplier done) {
        long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!done.getAsBoolean()) {
            s.step();
            if (System.nanoTime() - end > 0) {
                throw new AssertionError("not done within 10 s");
            }
            Thread.onSpinWait();
        }
    }

    /** Asks {@code s} to upgrade, lets the check answer and returns why the upgrade failed (the fake exec always does). */
    private static String upgrade(Supervisor s, FakeSwap swap) {
        CompletableFuture<String> failed = new CompletableFuture<>();
        s.upgrade(failed::complete);
        s.step();
        swap.release.countDown();
        stepUntil(s, failed::isDone);
        return failed.join();
    }

    private static JsonNode status(Supervisor s) throws Exception {
        CompletableFuture<JsonNode> r = new CompletableFuture<>();
        s.status(r::complete);
        s.step();
        return r.get(10, TimeUnit.SECONDS);
    }

    private void advance(Supervisor s, long millis) {
        now.addAndGet(Duration.ofMillis(millis).toNanos());
        s.step();
    }

    @Test
    void theNewImageOwnsWhatItWasHandedDrainTimeoutsRestartsAndReloads() throws Exception {
        FakeSpawner old = new FakeSpawner();
        FakeSwap swap = new FakeSwap();
        Supervisor a = started(old, swap);
        // Generation 1 will not drain by itself; generation 2 serves; one of its workers crashed and waits for its restart.
        old.ignoreDrainGeneration = 1;
        CompletableFuture<ReloadResult> r = new CompletableFuture<>();
        a.reload(r::complete);
        a.step();
        old.ofGeneration(2).forEach(f -> f.notify(Wire.READY, f.pid));
        a.step();
        assertTrue(r.get().ok);
        FakeSpawner.Fake crashed = old.ofGeneration(2).get(1);
        crashed.exit(ExitStatus.ofCode(1));
        a.step();

        String failed = upgrade(a, swap);
        assertTrue(failed.contains("exec refused by the test"), failed);
        assertTrue(swap.thawed, "a failed exec leaves the control socket serving");
        State s = swap.handed;
        assertNotNull(s);
        assertEquals(1, s.upgrades);

        FakeSpawner next = new FakeSpawner();
        next.nextPid.set(2000); // pids the old image's workers do not have
        next.ignoreDrainGeneration = 1;
        Supervisor b = supervisor(next, new FakeSwap());
        b.takeOver(s);
        b.step();
        JsonNode st = status(b);
        assertEquals(2, st.path("serving").asInt());
        assertEquals(1, st.path("upgrades").asInt());
        assertEquals(2, st.path("generations").size());
        assertEquals("DRAINING", st.path("generations").get(0).path("state").asText());
        List<Integer> oldPids = new ArrayList<>(List.of(old.ofGeneration(1).get(0).pid, old.ofGeneration(1).get(1).pid,
                old.ofGeneration(2).get(0).pid));
        List<Integer> adopted = next.started.stream().map(f -> f.pid).toList();
        assertEquals(oldPids, adopted, "the same processes, none started");
        assertTrue(st.path("reloads").get(0).path("result").asText().equals("ok"), "the reload history crossed over: " + st);

        // The drain timeout the old image set still KILLs, at the time it was due.
        advance(b, 300);
        for (FakeSpawner.Fake f : next.ofGeneration(1)) {
            assertEquals(List.of(Libc.SIGKILL), f.signals);
        }
        // The crashed slot's restart (100 ms after the crash) was due: it ran.
        assertEquals(1, next.ofGeneration(2).stream().filter(f -> f.spec.env != null && f.spec.slot == 1).count(), "slot 1 restarted");
        FakeSpawner.Fake restarted = next.ofGeneration(2).stream().filter(f -> f.spec.env != null).findFirst().orElseThrow();
        restarted.notify(Wire.READY, restarted.pid);
        b.step();

        // A reload drains the handed-over worker like any other.
        CompletableFuture<ReloadResult> r2 = new CompletableFuture<>();
        b.reload(r2::complete);
        b.step();
        next.ofGeneration(3).forEach(f -> f.notify(Wire.READY, f.pid));
        b.step();
        assertEquals(3, r2.get().generation);
        assertEquals(List.of(Libc.SIGTERM), next.byPid.get(old.ofGeneration(2).get(0).pid).signals, String.join("\n", log));
    }

    /**
     * Reloads asked for during an upgrade: one by SIGHUP crosses in the state, one on the control
     * socket crosses as the request in flight that the new image takes again. Each is counted once.
     */
    @Test
    void reloadsAskedForDuringAnUpgradeRunInTheNewImageCountedOnce() throws Exception {
        FakeSpawner old = new FakeSpawner();
        FakeSwap swap = new FakeSwap();
        Supervisor a = started(old, swap);
        CompletableFuture<String> failed = new CompletableFuture<>();
        a.upgrade(failed::complete);
        a.step();
        a.reload("SIGHUP", r -> { });
        a.reload(r -> { });
        a.step();
        swap.release.countDown();
        stepUntil(a, failed::isDone);
        State s = swap.handed;
        assertNotNull(s);

        FakeSpawner next = new FakeSpawner();
        next.nextPid.set(2000);
        Supervisor b = supervisor(next, new FakeSwap());
        b.takeOver(s);
        b.step();
        assertEquals(2, next.ofGeneration(2).size(), "the SIGHUP's reload runs first");
        CompletableFuture<ReloadResult> replayed = new CompletableFuture<>();
        b.reload(replayed::complete); // what the control server does with the request it finds in flight
        b.step();
        next.ofGeneration(2).forEach(f -> f.notify(Wire.READY, f.pid));
        b.step();
        next.ofGeneration(3).forEach(f -> f.notify(Wire.READY, f.pid));
        b.step();
        assertEquals(3, replayed.get(10, TimeUnit.SECONDS).generation);
        JsonNode reloads = status(b).path("reloads");
        assertEquals(2, reloads.size(), reloads.toString());
        assertEquals("control", reloads.get(0).path("trigger").asText(), reloads.toString());
        assertEquals(1, reloads.get(0).path("merged").asInt(), reloads.toString());
        assertEquals("SIGHUP", reloads.get(1).path("trigger").asText(), reloads.toString());
        assertEquals(1, reloads.get(1).path("merged").asInt(), reloads.toString());
    }

    @Test
    void anUpgradeAskedForDuringAReloadRunsAfterIt() {
        FakeSpawner spawner = new FakeSpawner();
        FakeSwap swap = new FakeSwap();
        Supervisor a = started(spawner, swap);
        a.reload(r -> { });
        a.step();
        CompletableFuture<String> failed = new CompletableFuture<>();
        a.upgrade(failed::complete);
        a.step();
        assertEquals(0, swap.checks, "no check while generation 2 starts");
        spawner.ofGeneration(2).forEach(f -> f.notify(Wire.READY, f.pid));
        a.step();
        swap.release.countDown();
        stepUntil(a, failed::isDone);
        assertEquals(1, swap.checks);
    }

    @Test
    void aFailedCheckChangesNothingAndAReloadAskedMeanwhileRunsAfterIt() throws Exception {
        FakeSpawner spawner = new FakeSpawner();
        FakeSwap swap = new FakeSwap();
        swap.failure = "the new installation failed its check";
        Supervisor a = started(spawner, swap);
        CompletableFuture<String> failed = new CompletableFuture<>();
        a.upgrade(failed::complete);
        a.step();
        assertTrue(status(a).path("upgrading").asBoolean());
        CompletableFuture<ReloadResult> r = new CompletableFuture<>();
        a.reload(r::complete);
        a.step();
        assertTrue(spawner.ofGeneration(2).isEmpty(), "the reload waits for the upgrade");
        swap.release.countDown();
        stepUntil(a, failed::isDone);
        assertTrue(failed.get().startsWith("the new installation failed its check; "), failed.get());
        assertEquals(null, swap.handed);
        assertEquals(2, spawner.ofGeneration(2).size(), "the held reload runs now");
        spawner.ofGeneration(2).forEach(f -> f.notify(Wire.READY, f.pid));
        a.step();
        assertTrue(r.get().ok);
        JsonNode st = status(a);
        assertEquals(0, st.path("upgrades").asInt());
        assertFalse(st.path("upgrading").asBoolean());
    }

    @Test
    void aStopDuringTheCheckEndsTheUpgrade() {
        FakeSpawner spawner = new FakeSpawner();
        FakeSwap swap = new FakeSwap();
        Supervisor a = started(spawner, swap);
        CompletableFuture<String> failed = new CompletableFuture<>();
        a.upgrade(failed::complete);
        a.step();
        a.stop();
        a.step();
        swap.release.countDown();
        stepUntil(a, failed::isDone);
        assertTrue(failed.join().contains("stopping"), failed.join());
        assertEquals(null, swap.handed);
    }

    @Test
    void aStopQueuedAsTheSignalsAreHeldEndsTheUpgradeBeforeTheExec() {
        FakeSpawner spawner = new FakeSpawner();
        FakeSwap swap = new FakeSwap();
        Supervisor a = started(spawner, swap);
        swap.beforeExec = a::stop; // a TERM dispatched just before the exec held the signals
        String failed = upgrade(a, swap);
        assertTrue(failed.contains("stopping"), failed);
        assertEquals(null, swap.handed, "no state written, no exec");
        assertTrue(swap.thawed);
        assertFalse(spawner.paused, "the output and notify threads read again");
    }

    @Test
    void aStateThisBuildCannotTakeOverIsRefusedBeforeAnythingIsTaken() {
        FakeSpawner spawner = new FakeSpawner();
        FakeSwap swap = new FakeSwap();
        Supervisor a = started(spawner, swap);
        upgrade(a, swap); // the state it handed over is the one to break
        State s = swap.handed;
        s.generations.get(0).state = "HIBERNATING";
        assertThrows(IllegalArgumentException.class, () -> Supervisor.check(s, text -> config));
        s.generations.get(0).state = "READY";
        s.generations.get(0).listenerSockets.set(0, 7);
        assertThrows(IllegalArgumentException.class, () -> Supervisor.check(s, text -> config));
        s.generations.get(0).listenerSockets.set(0, 0);
        s.serving = 9;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Supervisor.check(s, text -> config));
        assertTrue(e.getMessage().contains("serving generation 9"), e.getMessage());
    }
}
