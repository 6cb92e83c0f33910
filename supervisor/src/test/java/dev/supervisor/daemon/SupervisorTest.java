package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.daemon.SupervisorEvent.Kind;
import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.Wire;

/**
 * The state machine on fake processes and a fake clock: every step of DESIGN's reload, crash
 * restarts, stop. The test thread runs the loop ({@link Supervisor#step}) and moves time itself,
 * so nothing here waits for real time, and the assertions are on {@link SupervisorEvent}s.
 */
class SupervisorTest {
    private final FakeSpawner spawner = new FakeSpawner();
    private final List<String> log = new ArrayList<>();
    private final List<SupervisorEvent> events = new ArrayList<>();
    private final AtomicReference<Config> config = new AtomicReference<>();
    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private Supervisor supervisor;
    private boolean finished;

    private static Config config(String ready, int workers, String... extra) {
        Config.Flags f = new Config.Flags();
        f.listen = List.of("web=127.0.0.1:0");
        f.command = List.of("worker".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        f.workers = workers;
        f.ready = ready;
        f.drainTimeout = "300ms";
        f.readyTimeout = "2s";
        for (int i = 0; i < extra.length; i += 2) {
            if (extra[i].equals("ready-timeout")) {
                f.readyTimeout = extra[i + 1];
            } else if (extra[i].equals("listen")) {
                f.listen = List.of(extra[i + 1].split(","));
            }
        }
        return Config.load(null, f);
    }

    private void start(Config first) {
        config.set(first);
        supervisor = new Supervisor(spawner, (name, a) -> new Listener(name, a, -1, a.toString()), config::get, Environment.of(Map.of("PATH", "/bin")),
                Map.of(Wire.NOTIFY_SOCKET, "/n"), log::add);
        supervisor.useClock(now::get);
        supervisor.observe(events::add);
        supervisor.begin(supervisor.bind(first));
        step();
        assertEquals(first.workers, count(Kind.WORKER_STARTED, 1, -1));
    }

    private void assertLogged(String regex) {
        java.util.regex.Pattern p = java.util.regex.Pattern.compile(regex);
        assertTrue(log.stream().anyMatch(l -> p.matcher(l).find()), "no log line matching " + regex + " in " + log);
    }

    /** Runs the loop until it has nothing left to do now. */
    private void step() {
        finished = supervisor.step();
    }

    /** Moves the clock, then runs what became due. */
    private void advance(long millis) {
        now.addAndGet(Duration.ofMillis(millis).toNanos());
        step();
    }

    private long count(Kind kind, int generation, int slot) {
        return events.stream().filter(e -> e.kind() == kind && (generation < 0 || e.generation() == generation)
                && (slot < 0 || e.slot() == slot)).count();
    }

    private boolean happened(Kind kind, int generation) {
        return count(kind, generation, -1) > 0;
    }

    private void ready(FakeSpawner.Fake f) {
        f.notify(Wire.READY, f.pid);
        step();
    }

    private CompletableFuture<ReloadResult> requestReload() {
        CompletableFuture<ReloadResult> r = new CompletableFuture<>();
        supervisor.reload(r::complete);
        step();
        return r;
    }

    private JsonNode status() {
        CompletableFuture<JsonNode> r = new CompletableFuture<>();
        supervisor.status(r::complete);
        step();
        try {
            // Connections are counted off the loop thread: the answer comes from there.
            return r.get(10, java.util.concurrent.TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("no status answer", e);
        }
    }

    @Test
    void firstGenerationStartsEveryWorkerWithTheActivationEnvironment() {
        start(config("delay:50ms", 3));
        advance(49);
        assertFalse(happened(Kind.GENERATION_READY, 1), "ready only once the delay has passed");
        advance(1);
        assertTrue(happened(Kind.GENERATION_READY, 1));
        List<FakeSpawner.Fake> g1 = spawner.ofGeneration(1);
        assertEquals(3, g1.size());
        for (int i = 0; i < 3; i++) {
            Environment env = g1.get(i).spec.env;
            assertEquals("1", env.get(Wire.LISTEN_FDS));
            assertEquals("web", env.get(Wire.LISTEN_FDNAMES));
            assertEquals("1", env.get(Wire.SUPERVISOR_GENERATION));
            assertEquals(Integer.toString(i), env.get(Wire.SUPERVISOR_WORKER));
            assertEquals("/n", env.get(Wire.NOTIFY_SOCKET));
            assertFalse(env.containsKey(Wire.LISTEN_PID), "LISTEN_PID is set by the shim in the child");
        }
        JsonNode s = status();
        assertEquals(1, s.path("serving").asInt());
        assertEquals("READY", s.path("generations").get(0).path("state").asText());
        assertEquals(3, s.path("generations").get(0).path("workers").size());
    }

    @Test
    void reloadWaitsForReadinessThenDrainsTheOldGeneration() {
        start(config("notify", 2));
        spawner.ofGeneration(1).forEach(this::ready);
        assertTrue(happened(Kind.GENERATION_READY, 1));
        CompletableFuture<ReloadResult> r = requestReload();
        List<FakeSpawner.Fake> g2 = spawner.ofGeneration(2);
        assertEquals(2, g2.size());
        ready(g2.get(0));
        assertFalse(r.isDone(), "half ready is not ready");
        assertTrue(spawner.ofGeneration(1).stream().allMatch(f -> f.signals.isEmpty()), "old generation untouched until the new one is ready");
        ready(g2.get(1));
        ReloadResult result = r.getNow(null);
        assertTrue(result.ok);
        assertEquals(2, result.generation);
        assertTrue(happened(Kind.GENERATION_EXITED, 1));
        for (FakeSpawner.Fake f : spawner.ofGeneration(1)) {
            assertEquals(List.of(Libc.SIGTERM), f.signals);
        }
        assertEquals(2, status().path("serving").asInt());
    }

    @Test
    void aNewWorkerThatExitsBeforeReadyFailsTheReloadAndTheOldGenerationServesOn() {
        start(config("notify", 1));
        ready(spawner.ofGeneration(1).get(0));
        CompletableFuture<ReloadResult> r = requestReload();
        spawner.ofGeneration(2).get(0).exit(ExitStatus.ofCode(3));
        step();
        ReloadResult result = r.getNow(null);
        assertFalse(result.ok);
        assertTrue(result.error.contains("exited with code 3 before it was ready"), result.error);
        assertEquals(List.of("last words of " + spawner.ofGeneration(2).get(0).pid), result.stderr);
        assertTrue(spawner.ofGeneration(1).get(0).signals.isEmpty());
        assertTrue(happened(Kind.GENERATION_FAILED, 2));
        JsonNode s = status();
        assertEquals(1, s.path("serving").asInt());
        assertEquals(1, s.path("generations").size());
    }

    @Test
    void aReloadsWorkersStartLowAndAreRaisedWhenReadyOrWhenStartingTooLong() {
        start(config("notify", 1, "ready-timeout", "10s"));
        FakeSpawner.Fake first = spawner.ofGeneration(1).get(0);
        assertEquals(Priority.NORMAL, first.spec.starting, "generation 1 has no one to yield to");
        ready(first);
        requestReload();
        FakeSpawner.Fake second = spawner.ofGeneration(2).get(0);
        assertEquals(Priority.NICE, second.spec.starting);
        ready(second);
        assertTrue(second.raised, "raised before the old generation drains");

        // A saturated machine gives a low-priority generation no CPU: it is raised after 2s, not left to starve.
        requestReload();
        FakeSpawner.Fake third = spawner.ofGeneration(3).get(0);
        advance(1999);
        assertFalse(third.raised);
        advance(1);
        assertTrue(third.raised);
        assertLogged("generation 3 not ready after 2s at low priority; raised to normal");
    }

    @Test
    void theStartingPriorityLastsAtMostHalfTheReadyTimeout() {
        start(config("notify", 1, "ready-timeout", "1s"));
        ready(spawner.ofGeneration(1).get(0));
        requestReload();
        FakeSpawner.Fake second = spawner.ofGeneration(2).get(0);
        advance(499);
        assertFalse(second.raised);
        advance(1);
        assertTrue(second.raised, "half the ready timeout is left to start at normal priority");
    }

    @Test
    void whileAFailedWorkersLastLinesAreAwaitedAReloadMergesAndAStopWaits() {
        start(config("notify", 1));
        ready(spawner.ofGeneration(1).get(0));
        spawner.holdTails = true;
        CompletableFuture<ReloadResult> first = requestReload();
        FakeSpawner.Fake failed = spawner.ofGeneration(2).get(0);
        failed.exit(ExitStatus.ofCode(3));
        step();
        assertFalse(first.isDone(), "answered once the failed worker's last lines are in");
        CompletableFuture<ReloadResult> merged = requestReload();
        assertLogged("reload requested while generation 2's failure is reported: merged into one more reload after it");
        assertTrue(spawner.ofGeneration(3).isEmpty(), "no generation starts beside a reload still being answered");

        spawner.releaseTails();
        step();
        assertFalse(first.getNow(null).ok);
        assertEquals(List.of("last words of " + failed.pid), first.getNow(null).stderr);
        assertEquals(1, spawner.ofGeneration(3).size(), "the merged reload runs after it");

        // Generation 3 fails the same way; a stop meanwhile drains generation 1 but waits for the answer.
        spawner.holdTails = true;
        spawner.ofGeneration(3).get(0).exit(ExitStatus.ofCode(3));
        step();
        supervisor.stop();
        step();
        assertTrue(happened(Kind.GENERATION_EXITED, 1));
        assertFalse(finished, "the failed reload is answered before the supervisor finishes");
        spawner.releaseTails();
        step();
        assertFalse(merged.getNow(null).ok);
        assertTrue(finished);
        assertEquals(1, count(Kind.STOPPED, -1, -1));
    }

    @Test
    void aNewGenerationNotReadyInTimeIsKilled() {
        start(config("notify", 1, "ready-timeout", "200ms"));
        ready(spawner.ofGeneration(1).get(0));
        CompletableFuture<ReloadResult> r = requestReload();
        advance(199);
        assertFalse(r.isDone());
        advance(1);
        ReloadResult result = r.getNow(null);
        assertFalse(result.ok);
        assertTrue(result.error.contains("not ready within 200ms"), result.error);
        assertEquals(List.of(Libc.SIGKILL), spawner.ofGeneration(2).get(0).signals);
        assertTrue(spawner.ofGeneration(1).get(0).signals.isEmpty());
        assertEquals(1, status().path("serving").asInt());
    }

    @Test
    void reloadRequestsDuringAReloadAreMergedIntoOneMore() {
        start(config("delay:100ms", 1));
        advance(100);
        List<CompletableFuture<ReloadResult>> all = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            CompletableFuture<ReloadResult> r = new CompletableFuture<>();
            supervisor.reload(r::complete);
            all.add(r);
        }
        step(); // all 20 arrive while generation 2 starts, however slow this machine is
        assertEquals(19, count(Kind.RELOAD_MERGED, 2, -1));
        advance(100);
        assertEquals(2, all.get(0).getNow(null).generation);
        assertFalse(all.get(19).isDone(), "the merged requests wait for their own generation");
        advance(100);
        for (CompletableFuture<ReloadResult> r : all) {
            assertTrue(r.getNow(null).ok);
        }
        assertEquals(3, all.get(19).getNow(null).generation);
        assertTrue(spawner.ofGeneration(4).isEmpty(), "20 requests made exactly two generations");
    }

    @Test
    void theReloadHistoryShowsEachStepTheTriggersAndAFailedReloadsReason() throws Exception {
        start(config("notify", 2));
        spawner.ofGeneration(1).forEach(this::ready);
        assertTrue(happened(Kind.GENERATION_READY, 1));
        CompletableFuture<ReloadResult> first = new CompletableFuture<>();
        supervisor.reload("SIGHUP", first::complete);
        step();
        assertEquals(2, count(Kind.WORKER_STARTED, 2, -1));
        ready(spawner.ofGeneration(2).get(0));
        JsonNode running = status().path("reloads").get(0);
        assertEquals("running", running.path("result").asText());
        assertEquals("SIGHUP", running.path("trigger").asText());
        assertEquals("starting generation 2: 1 of 2 workers ready", running.path("step").asText());
        CompletableFuture<ReloadResult> merged = new CompletableFuture<>();
        supervisor.reload(merged::complete); // merged into one more reload after this one
        step();
        ready(spawner.ofGeneration(2).get(1));
        assertTrue(first.getNow(null).ok);
        assertEquals(1, count(Kind.WORKER_STARTED, 3, 0));
        JsonNode done = status().path("reloads").get(1);
        assertEquals("ok", done.path("result").asText());
        assertEquals(2, done.path("generation").asInt());
        assertEquals(1, done.path("old_generation").asInt());
        assertTrue(done.path("ready_ms").asLong() >= done.path("requested_ms").asLong(), done.toString());
        assertTrue(done.path("overhead_us").asLong() >= 0, done.toString());
        spawner.ofGeneration(3).get(0).exit(ExitStatus.ofCode(3));
        step();
        assertFalse(merged.getNow(null).ok);
        assertTrue(happened(Kind.GENERATION_EXITED, 1));
        JsonNode s = status();
        JsonNode failed = s.path("reloads").get(0);
        assertEquals("control", failed.path("trigger").asText());
        assertEquals(1, failed.path("merged").asInt());
        assertEquals("failed", failed.path("result").asText());
        assertTrue(failed.path("reason").asText().contains("exited with code 3 before it was ready"), failed.toString());
        assertTrue(failed.has("finished_ms") && !failed.has("ready_ms"), failed.toString());
        assertTrue(s.path("reloads").get(1).has("old_drained_ms"), "generation 1 has drained: " + s);

        CompletableFuture<Snapshot> snap = new CompletableFuture<>();
        supervisor.snapshot(snap::complete);
        step();
        Snapshot m = snap.get(5, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(1, m.reloads().ok());
        assertEquals(1, m.reloads().failed());
        assertFalse(m.reloads().lastSuccessful());
        assertEquals(1, java.util.Arrays.stream(m.reloads().duration().counts()).sum());
        assertEquals(2, m.serving());
        assertTrue(m.ready());
        assertEquals(1, m.generations().get("ready"));
        assertEquals(2, m.workers().get("ready"));
    }

    @Test
    void reloadsRequestedWhileGenerationOneStartsWaitForTheirOwnGenerations() {
        start(config("notify", 1));
        CompletableFuture<ReloadResult> first = requestReload();
        assertEquals(1, count(Kind.WORKER_STARTED, 2, 0));
        CompletableFuture<ReloadResult> merged = requestReload();
        assertTrue(happened(Kind.RELOAD_MERGED, 2));

        ready(spawner.ofGeneration(1).get(0)); // generation 1 gets ready while generation 2 starts
        assertTrue(happened(Kind.GENERATION_READY, 1));
        assertFalse(first.isDone(), "the reload to generation 2 is not answered by generation 1: " + first);
        assertTrue(status().path("reloading").asBoolean());
        assertTrue(spawner.ofGeneration(3).isEmpty(), "the merged reload waits for generation 2");

        ready(spawner.ofGeneration(2).get(0));
        assertEquals(2, first.getNow(null).generation);
        ready(spawner.ofGeneration(3).get(0));
        ReloadResult r = merged.getNow(null);
        assertTrue(r.ok);
        assertEquals(3, r.generation);
        assertEquals(3, status().path("serving").asInt());
        assertFalse(finished, "the supervisor still runs");
    }

    @Test
    void anOldWorkerThatIgnoresTheDrainSignalIsKilledAtTheDrainTimeout() {
        spawner.ignoreDrainGeneration = 1;
        start(config("delay:20ms", 1));
        advance(20);
        CompletableFuture<ReloadResult> r = requestReload();
        advance(20);
        assertTrue(r.getNow(null).ok);
        advance(299);
        assertFalse(happened(Kind.WORKER_KILLED_AT_DRAIN_TIMEOUT, 1));
        advance(1);
        assertTrue(happened(Kind.WORKER_KILLED_AT_DRAIN_TIMEOUT, 1));
        assertTrue(happened(Kind.GENERATION_EXITED, 1));
        assertEquals(List.of(Libc.SIGTERM, Libc.SIGKILL), spawner.ofGeneration(1).get(0).signals);
        assertTrue(log.stream().anyMatch(l -> l.matches("worker 1.0 \\(pid \\d+\\) killed by SIGKILL \\(at the drain timeout\\)")), log.toString());
    }

    @Test
    void aGenerationHasExitedOnlyWhenItsLastProcessHas() {
        start(config("delay:20ms", 1));
        advance(20);
        FakeSpawner.Fake old = spawner.ofGeneration(1).get(0);
        old.descendants = 1; // a server the worker started and that outlives it
        requestReload();
        advance(20);
        assertEquals(List.of(Libc.SIGTERM), old.signals, "the tree got the drain signal");
        assertTrue(happened(Kind.WORKER_EXITED, 1));
        assertFalse(happened(Kind.GENERATION_EXITED, 1), "a descendant of the worker still runs");
        assertEquals("EXITED", status().path("generations").get(0).path("workers").get(0).path("state").asText());
        advance(300);
        assertEquals(List.of(Libc.SIGTERM, Libc.SIGKILL), old.signals, "the drain timeout KILLs what is left of the tree");
        advance(Supervisor.TREE_PERIOD.toMillis()); // the next look at the trees finds it gone
        assertTrue(happened(Kind.GENERATION_EXITED, 1));
    }

    @Test
    void aCrashedWorkerIsRestartedInItsSlotWithBackoff() {
        start(config("delay:20ms", 2));
        advance(20);
        FakeSpawner.Fake first = spawner.ofGeneration(1).get(1);
        first.exit(ExitStatus.ofCode(1));
        step();
        assertEquals(List.of(new SupervisorEvent(Kind.RESTART_SCHEDULED, 1, 1, "100")),
                events.stream().filter(e -> e.kind() == Kind.RESTART_SCHEDULED).toList());
        assertTrue(first.reaped);
        advance(99);
        assertEquals(1, count(Kind.WORKER_STARTED, 1, 1));
        advance(1);
        assertEquals(2, count(Kind.WORKER_STARTED, 1, 1));
        FakeSpawner.Fake second = spawner.byPid.get(first.pid + 1);
        second.exit(ExitStatus.ofCode(1));
        step();
        assertEquals(new SupervisorEvent(Kind.RESTART_SCHEDULED, 1, 1, "200"), events.get(events.size() - 1));
        assertEquals(1, status().path("serving").asInt());
    }

    @Test
    void aSpawnFailureFailsTheReloadAndPostponesARestartWithBackoff() {
        start(config("delay:20ms", 1));
        advance(20);
        spawner.failSpawn = "cannot start worker: pipe2() failed: EMFILE (Too many open files)";
        ReloadResult r = requestReload().getNow(null);
        assertFalse(r.ok);
        assertTrue(r.error.contains("EMFILE"), r.error);
        spawner.ofGeneration(1).get(0).exit(ExitStatus.ofCode(1));
        step();
        advance(100);
        assertEquals(new SupervisorEvent(Kind.RESTART_SCHEDULED, 1, 0, "200"), events.get(events.size() - 1), "postponed, not given up");
        spawner.failSpawn = null;
        advance(200);
        assertEquals(2, count(Kind.WORKER_STARTED, 1, 0));
        CompletableFuture<ReloadResult> next = requestReload();
        advance(20);
        assertTrue(next.getNow(null).ok, "the next reload works once the cause is gone");
        assertFalse(finished);
    }

    @Test
    void notifyOnAWorkersSocketCountsForTheWorkerWhoeverSentIt() {
        start(config("notify", 1));
        FakeSpawner.Fake w = spawner.ofGeneration(1).get(0);
        w.notify("STATUS=warming up\nREADY=1", 99999); // a helper of the worker, gone by now
        step();
        assertTrue(happened(Kind.GENERATION_READY, 1));
        assertEquals("warming up", status().path("generations").get(0).path("workers").get(0).path("status").asText());
    }

    @Test
    void readyOnTheSocketOfAnExitedWorkerIsLogged() {
        start(config("notify", 1));
        FakeSpawner.Fake w = spawner.ofGeneration(1).get(0);
        w.exit(ExitStatus.ofCode(1));
        step();
        w.notify(Wire.READY, 4242);
        step();
        assertTrue(log.contains("READY=1 from pid 4242 on the socket of worker 1.0 (pid " + w.pid + "), which has exited: ignored"), log.toString());
    }

    @Test
    void stopDrainsEveryGenerationAndExitsZero() {
        start(config("delay:20ms", 2));
        advance(20);
        supervisor.stop();
        step();
        assertTrue(finished);
        assertEquals(0, supervisor.exitCode());
        for (FakeSpawner.Fake f : spawner.ofGeneration(1)) {
            assertEquals(List.of(Libc.SIGTERM), f.signals);
        }
    }

    @Test
    void aSecondStopKillsAtOnce() {
        spawner.ignoreDrainGeneration = 1;
        start(config("delay:20ms", 1));
        advance(20);
        supervisor.stop();
        step();
        assertTrue(happened(Kind.STOPPING, -1));
        assertFalse(finished);
        supervisor.stop();
        step();
        assertTrue(finished);
        assertEquals(0, supervisor.exitCode());
        assertEquals(List.of(Libc.SIGTERM, Libc.SIGKILL), spawner.ofGeneration(1).get(0).signals);
        assertLogged("worker 1.0 \\(pid \\d+\\) killed by SIGKILL \\(immediate stop\\)$");
    }

    @Test
    void aCrashLoopingFirstGenerationShowsItsRestartsAndSaysWhenItMissesTheReadyTimeout() {
        start(config("notify", 1, "ready-timeout", "100ms"));
        FakeSpawner.Fake first = spawner.ofGeneration(1).get(0);
        first.exit(ExitStatus.ofCode(3));
        step();
        assertLogged("restarting generation 1 worker 0 in 100 ms");
        advance(100);
        assertLogged("generation 1 was not ready within 100ms \\(--ready-timeout\\)");
        assertLogged("started worker 1.0 \\(pid " + (first.pid + 1) + "\\)");
        spawner.byPid.get(first.pid + 1).exit(ExitStatus.ofCode(3));
        step();
        assertLogged("restarting generation 1 worker 0 in 200 ms");
        JsonNode g = status().path("generations").get(0);
        assertEquals("STARTING", g.path("state").asText());
        JsonNode w = g.path("workers").get(0);
        assertEquals("RESTARTING", w.path("state").asText(), "the slot waits for its next attempt: " + g);
        assertEquals(1, w.path("restarts").asInt());
        assertTrue(w.path("next_attempt_ms").asLong() <= 200, g.toString());
        assertEquals(ExitStatus.describe(ExitStatus.ofCode(3)), w.path("last_exit").asText());
    }

    @Test
    void aRemovedListenerIsClosedOnceTheOldGenerationHasGone() {
        start(config("delay:20ms", 1, "listen", "web=127.0.0.1:0,admin=127.0.0.1:1"));
        advance(20);
        config.set(config("delay:20ms", 1, "listen", "web=127.0.0.1:0,extra=127.0.0.1:2"));
        CompletableFuture<ReloadResult> r = requestReload();
        advance(20);
        assertTrue(r.getNow(null).ok);
        assertEquals("web:extra", spawner.ofGeneration(2).get(0).spec.env.get(Wire.LISTEN_FDNAMES));
        assertEquals(List.of(new SupervisorEvent(Kind.LISTENER_CLOSED, 1, -1, "admin")),
                events.stream().filter(e -> e.kind() == Kind.LISTENER_CLOSED).toList());
        assertLogged("^listening extra=tcp://127.0.0.1:2 \\(added by this reload\\)$");
        List<String> names = new ArrayList<>();
        status().path("listeners").forEach(l -> names.add(l.path("name").asText()));
        assertEquals(List.of("web", "extra"), names);
    }

    @Test
    void aListenerAddedByAFailedReloadIsClosedWithTheFailedGeneration() {
        start(config("notify", 1, "listen", "web=127.0.0.1:0"));
        ready(spawner.ofGeneration(1).get(0));
        config.set(config("notify", 1, "listen", "web=127.0.0.1:0,api=127.0.0.1:3"));
        CompletableFuture<ReloadResult> r = requestReload();
        spawner.ofGeneration(2).get(0).exit(ExitStatus.ofCode(3));
        step();
        assertFalse(r.getNow(null).ok);
        assertTrue(happened(Kind.GENERATION_EXITED, 2));
        assertEquals(List.of(new SupervisorEvent(Kind.LISTENER_CLOSED, 2, -1, "api")),
                events.stream().filter(e -> e.kind() == Kind.LISTENER_CLOSED).toList());
        List<String> names = new ArrayList<>();
        status().path("listeners").forEach(l -> names.add(l.path("name").asText()));
        assertEquals(List.of("web"), names, "no generation uses api, and the config in effect does not name it");
    }

    @Test
    void aReloadWithABadConfigFailsAndChangesNothing() {
        start(config("delay:20ms", 1));
        advance(20);
        Config good = config.get();
        config.set(null); // the config source now fails, as a bad file would
        ReloadResult result = requestReload().getNow(null);
        assertFalse(result.ok);
        config.set(good);
        assertEquals(1, status().path("generations").size());
        assertNull(spawner.ofGeneration(2).isEmpty() ? null : "a generation 2");
    }
}
