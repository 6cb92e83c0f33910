package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.daemon.upgrade.State;
import dev.supervisor.daemon.upgrade.StateReader;
import dev.supervisor.daemon.upgrade.StateWriter;
import dev.supervisor.protocol.Wire;

/**
 * An upgrade on fake processes: the state one supervisor hands over (through the document's
 * bytes) makes another one that owns the same generations, workers and deadlines; a failed exec
 * or check leaves the first one as it was.
 */
class SupervisorUpgradeTest {
    private static final Duration WAIT = Duration.ofSeconds(5);

    private final List<Supervisor> running = new ArrayList<>();
    private final List<CompletableFuture<Integer>> exits = new ArrayList<>();

    /** The exec fails, as an execve that returns would; the state it was given is kept. */
    private static final class FakeSwap implements ImageSwap {
        volatile String checkFails;
        final CompletableFuture<State> handed = new CompletableFuture<>();
        volatile boolean thawed;

        @Override
        public String check() {
            return checkFails;
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
        public void exec(State s) {
            handed.complete(s);
            throw new NativeException("execve(/fake)", Posix.ENOENT);
        }
    }

    private static Config config(int workers) {
        Config.Flags f = new Config.Flags();
        f.listen = List.of("web=127.0.0.1:0");
        f.command = List.of("worker");
        f.workers = workers;
        f.ready = "notify";
        f.drainTimeout = "1s";
        return Config.load(null, f);
    }

    private Supervisor supervisor(FakeSpawner spawner, List<String> log) {
        Config c = config(2);
        Supervisor s = new Supervisor(spawner, (name, a) -> new Listener(name, a, -1, a.toString()), () -> c, Map.of("PATH", "/bin"),
                Map.of(Wire.NOTIFY_SOCKET, "/n"), log::add);
        running.add(s);
        return s;
    }

    @AfterEach
    void stopAll() throws Exception {
        for (Supervisor s : running) {
            s.stop();
            s.stop();
        }
        for (CompletableFuture<Integer> e : exits) {
            e.get(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void theHandedOverStateMakesAnEqualSupervisorWhoseDeadlinesStillFire() throws Exception {
        FakeSpawner a = new FakeSpawner();
        List<String> logA = new Lines();
        Supervisor first = supervisor(a, logA);
        List<Listener> bound = first.bind(config(2));
        FakeSwap swap = new FakeSwap();
        first.upgradeWith(swap);
        exits.add(CompletableFuture.supplyAsync(() -> first.run(bound)));
        awaitLog(logA, "started worker 1.1");
        a.ofGeneration(1).forEach(f -> first.notify(new long[] {f.pid}, Wire.READY));
        awaitLog(logA, "generation 1 ready");
        // Generation 1 ignores its drain signal: when the upgrade comes, its drain timeout is pending.
        a.ignoreDrainGeneration = 1;
        CompletableFuture<ReloadResult> reload = new CompletableFuture<>();
        first.reload(reload::complete);
        awaitLog(logA, "started worker 2.1");
        a.ofGeneration(2).forEach(f -> first.notify(new long[] {f.pid}, Wire.READY));
        assertTrue(reload.get(5, TimeUnit.SECONDS).ok);

        CompletableFuture<String> failed = new CompletableFuture<>();
        first.upgrade(failed::complete);
        String why = failed.get(5, TimeUnit.SECONDS);
        assertTrue(why.contains("execve(/fake) failed") && why.contains("carries on"), why);
        assertTrue(swap.thawed);
        JsonNode before = status(first);
        assertEquals(0, before.path("upgrades").asInt());
        assertEquals(2, before.path("generations").size());

        // What the next image reads: the document's bytes, not the object.
        State handed = StateReader.fromBytes(StateWriter.toBytes(swap.handed.get()));
        assertEquals(1, handed.upgrades);
        FakeSpawner b = new FakeSpawner();
        List<String> logB = new Lines();
        Supervisor second = supervisor(b, logB);
        second.resumeFrom(handed);
        exits.add(CompletableFuture.supplyAsync(() -> second.run(null)));
        JsonNode after = status(second);
        assertEquals(1, after.path("upgrades").asInt());
        assertEquals(before.path("serving"), after.path("serving"));
        for (int i = 0; i < 2; i++) {
            JsonNode g0 = before.path("generations").get(i);
            JsonNode g1 = after.path("generations").get(i);
            assertEquals(g0.path("generation"), g1.path("generation"));
            assertEquals(g0.path("state"), g1.path("state"));
            assertEquals(pids(g0), pids(g1));
        }
        assertTrue(after.path("uptime_ms").asLong() >= before.path("uptime_ms").asLong());
        // The drain timeout the first one set still KILLs generation 1, now from the second one.
        awaitLog(logB, "still running 1s after the drain signal: killing it");
        awaitLog(logB, "generation 1 exited");
        // A handed-over worker that crashes is restarted in its slot.
        b.byPid.get(a.ofGeneration(2).get(0).pid).exit(ExitStatus.ofSignal(Posix.SIGKILL));
        awaitLog(logB, "restarting generation 2 worker 0");
        awaitLog(logB, "started worker 2.0");
    }

    @Test
    void aFailedCheckChangesNothingAndAReloadAskedMeanwhileRunsAfter() throws Exception {
        FakeSpawner a = new FakeSpawner();
        List<String> log = new Lines();
        Supervisor s = supervisor(a, log);
        List<Listener> bound = s.bind(config(2));
        FakeSwap swap = new FakeSwap();
        swap.checkFails = "the new installation failed its check";
        s.upgradeWith(swap);
        exits.add(CompletableFuture.supplyAsync(() -> s.run(bound)));
        awaitLog(log, "started worker 1.1");
        a.ofGeneration(1).forEach(f -> s.notify(new long[] {f.pid}, Wire.READY));
        awaitLog(log, "generation 1 ready");
        CompletableFuture<String> failed = new CompletableFuture<>();
        s.upgrade(failed::complete);
        CompletableFuture<ReloadResult> reload = new CompletableFuture<>();
        s.reload(reload::complete);
        assertTrue(failed.get(5, TimeUnit.SECONDS).contains("failed its check"));
        awaitLog(log, "started worker 2.1");
        assertTrue(!swap.handed.isDone(), "no exec after a failed check");
        a.ofGeneration(2).forEach(f -> s.notify(new long[] {f.pid}, Wire.READY));
        assertTrue(reload.get(5, TimeUnit.SECONDS).ok);
    }

    private static List<Long> pids(JsonNode generation) {
        List<Long> out = new ArrayList<>();
        generation.path("workers").forEach(w -> out.add(w.path("pid").asLong()));
        return out;
    }

    private static JsonNode status(Supervisor s) throws Exception {
        CompletableFuture<JsonNode> r = new CompletableFuture<>();
        s.status(r::complete);
        return r.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    /** Waits for a line of {@code log} (a {@link Lines}) that matches. */
    private static void awaitLog(List<String> log, String regex) throws InterruptedException {
        Pattern p = Pattern.compile(regex);
        long deadline = System.nanoTime() + WAIT.toNanos();
        synchronized (log) {
            while (log.stream().noneMatch(l -> p.matcher(l).find())) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("no log line matching " + regex + " in " + log);
                }
                log.wait(Math.max(1, left / 1_000_000));
            }
        }
    }

    /** A log that wakes whoever waits for a line. */
    private static final class Lines extends CopyOnWriteArrayList<String> {
        private static final long serialVersionUID = 1L;

        @Override
        public synchronized boolean add(String line) {
            super.add(line);
            notifyAll();
            return true;
        }
    }
}
