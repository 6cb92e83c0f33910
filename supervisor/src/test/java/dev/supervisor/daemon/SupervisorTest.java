package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.protocol.Wire;

/** The state machine on fake processes: every step of DESIGN's reload, crash restarts, stop. */
class SupervisorTest {
    private static final Duration WAIT = Duration.ofSeconds(5);

    private final FakeSpawner spawner = new FakeSpawner();
    private final List<String> log = new CopyOnWriteArrayList<>();
    private final AtomicReference<Config> config = new AtomicReference<>();
    private Supervisor supervisor;
    private CompletableFuture<Integer> exit;

    private static Config config(String ready, int workers, String... extra) {
        Config.Flags f = new Config.Flags();
        f.listen = List.of("web=127.0.0.1:0");
        f.command = List.of("worker");
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
        supervisor = new Supervisor(spawner, (name, a) -> new Listener(name, a, -1, a.toString()), config::get, Map.of("PATH", "/bin"),
                Map.of(Wire.NOTIFY_SOCKET, "/n"), log::add);
        List<Listener> bound = supervisor.bind(first);
        exit = CompletableFuture.supplyAsync(() -> supervisor.run(bound));
        awaitLog("started worker 1." + (first.workers - 1));
    }

    @AfterEach
    void stop() throws Exception {
        if (exit != null && !exit.isDone()) {
            supervisor.stop();
            supervisor.stop();
            exit.get(5, TimeUnit.SECONDS);
        }
    }

    private void awaitLog(String regex) {
        Pattern p = Pattern.compile(regex);
        long deadline = System.nanoTime() + WAIT.toNanos();
        synchronized (this) {
            while (log.stream().noneMatch(l -> p.matcher(l).find())) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("no log line matching " + regex + " in " + log);
                }
                try {
                    wait(5);
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            }
        }
    }

    private void ready(FakeSpawner.Fake f) {
        supervisor.notify(new long[] {f.pid}, Wire.READY);
    }

    private ReloadResult reload() throws Exception {
        CompletableFuture<ReloadResult> r = new CompletableFuture<>();
        supervisor.reload(r::complete);
        return r.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    private JsonNode status() throws Exception {
        CompletableFuture<JsonNode> r = new CompletableFuture<>();
        supervisor.status(r::complete);
        return r.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    @Test
    void firstGenerationStartsEveryWorkerWithTheActivationEnvironment() throws Exception {
        start(config("delay:50ms", 3));
        awaitLog("generation 1 ready");
        List<FakeSpawner.Fake> g1 = spawner.ofGeneration(1);
        assertEquals(3, g1.size());
        for (int i = 0; i < 3; i++) {
            Map<String, String> env = g1.get(i).spec.env;
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
    void reloadWaitsForReadinessThenDrainsTheOldGeneration() throws Exception {
        start(config("notify", 2));
        spawner.ofGeneration(1).forEach(this::ready);
        awaitLog("generation 1 ready");
        CompletableFuture<ReloadResult> r = new CompletableFuture<>();
        supervisor.reload(r::complete);
        awaitLog("started worker 2.1");
        List<FakeSpawner.Fake> g2 = spawner.ofGeneration(2);
        ready(g2.get(0));
        status(); // one round trip through the loop: half ready is not ready
        assertFalse(r.isDone());
        assertTrue(spawner.ofGeneration(1).stream().allMatch(f -> f.signals.isEmpty()), "old generation untouched until the new one is ready");
        ready(g2.get(1));
        ReloadResult result = r.get(5, TimeUnit.SECONDS);
        assertTrue(result.ok);
        assertEquals(2, result.generation);
        awaitLog("generation 1 exited");
        for (FakeSpawner.Fake f : spawner.ofGeneration(1)) {
            assertEquals(List.of(Posix.SIGTERM), f.signals);
        }
        assertEquals(2, status().path("serving").asInt());
    }

    @Test
    void aNewWorkerThatExitsBeforeReadyFailsTheReloadAndTheOldGenerationServesOn() throws Exception {
        start(config("notify", 1));
        ready(spawner.ofGeneration(1).get(0));
        awaitLog("generation 1 ready");
        CompletableFuture<ReloadResult> r = new CompletableFuture<>();
        supervisor.reload(r::complete);
        awaitLog("started worker 2.0");
        spawner.ofGeneration(2).get(0).exit(ExitStatus.ofCode(3));
        ReloadResult result = r.get(5, TimeUnit.SECONDS);
        assertFalse(result.ok);
        assertTrue(result.error.contains("exited with code 3 before it was ready"), result.error);
        assertEquals(List.of("last words of " + spawner.ofGeneration(2).get(0).pid), result.stderr);
        assertTrue(spawner.ofGeneration(1).get(0).signals.isEmpty());
        JsonNode s = status();
        assertEquals(1, s.path("serving").asInt());
        assertEquals(1, s.path("generations").size());
    }

    @Test
    void aNewGenerationNotReadyInTimeIsKilled() throws Exception {
        start(config("notify", 1, "ready-timeout", "200ms"));
        ready(spawner.ofGeneration(1).get(0));
        ReloadResult result = reload();
        assertFalse(result.ok);
        assertTrue(result.error.contains("not ready within 200ms"), result.error);
        assertEquals(List.of(Posix.SIGKILL), spawner.ofGeneration(2).get(0).signals);
        assertTrue(spawner.ofGeneration(1).get(0).signals.isEmpty());
        assertEquals(1, status().path("serving").asInt());
    }

    @Test
    void reloadRequestsDuringAReloadAreMergedIntoOneMore() throws Exception {
        start(config("delay:100ms", 1));
        awaitLog("generation 1 ready");
        List<CompletableFuture<ReloadResult>> all = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            CompletableFuture<ReloadResult> r = new CompletableFuture<>();
            supervisor.reload(r::complete);
            all.add(r);
        }
        for (CompletableFuture<ReloadResult> r : all) {
            assertTrue(r.get(5, TimeUnit.SECONDS).ok);
        }
        assertEquals(2, all.get(0).get().generation);
        assertEquals(3, all.get(19).get().generation);
        assertTrue(spawner.ofGeneration(4).isEmpty(), "20 requests made exactly two generations");
    }

    @Test
    void theReloadHistoryShowsEachStepTheTriggersAndAFailedReloadsReason() throws Exception {
        start(config("notify", 2));
        spawner.ofGeneration(1).forEach(this::ready);
        awaitLog("generation 1 ready");
        CompletableFuture<ReloadResult> first = new CompletableFuture<>();
        supervisor.reload("SIGHUP", first::complete);
        awaitLog("started worker 2.1");
        ready(spawner.ofGeneration(2).get(0));
        JsonNode running = status().path("reloads").get(0);
        assertEquals("running", running.path("result").asText());
        assertEquals("SIGHUP", running.path("trigger").asText());
        assertEquals("starting generation 2: 1 of 2 workers ready", running.path("step").asText());
        CompletableFuture<ReloadResult> merged = new CompletableFuture<>();
        supervisor.reload(merged::complete); // merged into one more reload after this one
        ready(spawner.ofGeneration(2).get(1));
        assertTrue(first.get(5, TimeUnit.SECONDS).ok);
        awaitLog("started worker 3.0");
        JsonNode done = status().path("reloads").get(1);
        assertEquals("ok", done.path("result").asText());
        assertEquals(2, done.path("generation").asInt());
        assertEquals(1, done.path("old_generation").asInt());
        assertTrue(done.path("ready_ms").asLong() >= done.path("requested_ms").asLong(), done.toString());
        assertTrue(done.path("overhead_us").asLong() >= 0, done.toString());
        spawner.ofGeneration(3).get(0).exit(ExitStatus.ofCode(3));
        assertFalse(merged.get(5, TimeUnit.SECONDS).ok);
        awaitLog("generation 1 exited");
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
        Snapshot m = snap.get(5, TimeUnit.SECONDS);
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
    void reloadsRequestedWhileGenerationOneStartsWaitForTheirOwnGenerations() throws Exception {
        start(config("notify", 1));
        CompletableFuture<ReloadResult> first = new CompletableFuture<>();
        supervisor.reload(first::complete);
        awaitLog("started worker 2.0");
        CompletableFuture<ReloadResult> merged = new CompletableFuture<>();
        supervisor.reload(merged::complete);
        awaitLog("merged into one more reload after it");

        ready(spawner.ofGeneration(1).get(0)); // generation 1 gets ready while generation 2 starts
        awaitLog("generation 1 ready");
        JsonNode s = status(); // a round trip through the loop: the readiness of generation 1 is fully handled
        assertFalse(first.isDone(), "the reload to generation 2 is not answered by generation 1: " + first);
        assertTrue(s.path("reloading").asBoolean());
        assertTrue(spawner.ofGeneration(3).isEmpty(), "the merged reload waits for generation 2");

        ready(spawner.ofGeneration(2).get(0));
        assertEquals(2, first.get(WAIT.toSeconds(), TimeUnit.SECONDS).generation);
        awaitLog("started worker 3.0");
        ready(spawner.ofGeneration(3).get(0));
        ReloadResult r = merged.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertTrue(r.ok);
        assertEquals(3, r.generation);
        assertEquals(3, status().path("serving").asInt());
        assertFalse(exit.isDone(), "the supervisor still runs");
    }

    @Test
    void anOldWorkerThatIgnoresTheDrainSignalIsKilledAtTheDrainTimeout() throws Exception {
        spawner.ignoreDrainGeneration = 1;
        start(config("delay:20ms", 1));
        awaitLog("generation 1 ready");
        assertTrue(reload().ok);
        awaitLog("worker 1.0 .* still running 300ms after the drain signal: killing it");
        awaitLog("worker 1.0 \\(pid \\d+\\) killed by SIGKILL \\(at the drain timeout\\)$");
        awaitLog("generation 1 exited");
        assertEquals(List.of(Posix.SIGTERM, Posix.SIGKILL), spawner.ofGeneration(1).get(0).signals);
    }

    @Test
    void aCrashedWorkerIsRestartedInItsSlotWithBackoff() throws Exception {
        start(config("delay:20ms", 2));
        awaitLog("generation 1 ready");
        FakeSpawner.Fake first = spawner.ofGeneration(1).get(1);
        first.exit(ExitStatus.ofCode(1));
        awaitLog("restarting generation 1 worker 1 in 100 ms");
        awaitLog("started worker 1.1 \\(pid " + (first.pid + 1) + "\\)");
        assertTrue(first.reaped);
        FakeSpawner.Fake second = spawner.byPid.get(first.pid + 1);
        second.exit(ExitStatus.ofCode(1));
        awaitLog("restarting generation 1 worker 1 in 200 ms");
        JsonNode s = status();
        assertEquals(1, s.path("serving").asInt());
    }

    @Test
    void notifyFromAWorkersChildCountsForTheWorker() throws Exception {
        start(config("notify", 1));
        FakeSpawner.Fake w = spawner.ofGeneration(1).get(0);
        supervisor.notify(new long[] {99999, w.pid}, "STATUS=warming up\nREADY=1");
        awaitLog("generation 1 ready");
        assertEquals("warming up", status().path("generations").get(0).path("workers").get(0).path("status").asText());
    }

    @Test
    void stopDrainsEveryGenerationAndExitsZero() throws Exception {
        start(config("delay:20ms", 2));
        awaitLog("generation 1 ready");
        supervisor.stop();
        assertEquals(0, exit.get(5, TimeUnit.SECONDS));
        for (FakeSpawner.Fake f : spawner.ofGeneration(1)) {
            assertEquals(List.of(Posix.SIGTERM), f.signals);
        }
    }

    @Test
    void aSecondStopKillsAtOnce() throws Exception {
        spawner.ignoreDrainGeneration = 1;
        start(config("delay:20ms", 1));
        awaitLog("generation 1 ready");
        supervisor.stop();
        awaitLog("stopping");
        supervisor.stop();
        assertEquals(0, exit.get(5, TimeUnit.SECONDS));
        assertEquals(List.of(Posix.SIGTERM, Posix.SIGKILL), spawner.ofGeneration(1).get(0).signals);
    }

    @Test
    void aRemovedListenerIsClosedOnceTheOldGenerationHasGone() throws Exception {
        start(config("delay:20ms", 1, "listen", "web=127.0.0.1:0,admin=127.0.0.1:1"));
        awaitLog("generation 1 ready");
        config.set(config("delay:20ms", 1, "listen", "web=127.0.0.1:0,extra=127.0.0.1:2"));
        assertTrue(reload().ok);
        assertEquals("web:extra", spawner.ofGeneration(2).get(0).spec.env.get(Wire.LISTEN_FDNAMES));
        awaitLog("closed listener admin=");
        List<String> names = new ArrayList<>();
        status().path("listeners").forEach(l -> names.add(l.path("name").asText()));
        assertEquals(List.of("web", "extra"), names);
    }

    @Test
    void aListenerAddedByAFailedReloadIsClosedWithTheFailedGeneration() throws Exception {
        start(config("notify", 1, "listen", "web=127.0.0.1:0"));
        ready(spawner.ofGeneration(1).get(0));
        awaitLog("generation 1 ready");
        config.set(config("notify", 1, "listen", "web=127.0.0.1:0,api=127.0.0.1:3"));
        CompletableFuture<ReloadResult> r = new CompletableFuture<>();
        supervisor.reload(r::complete);
        awaitLog("started worker 2.0");
        spawner.ofGeneration(2).get(0).exit(ExitStatus.ofCode(3));
        assertFalse(r.get(WAIT.toSeconds(), TimeUnit.SECONDS).ok);
        awaitLog("closed listener api=");
        awaitLog("generation 2 exited");
        List<String> names = new ArrayList<>();
        status().path("listeners").forEach(l -> names.add(l.path("name").asText()));
        assertEquals(List.of("web"), names, "no generation uses api, and the config in effect does not name it");
    }

    @Test
    void aReloadWithABadConfigFailsAndChangesNothing() throws Exception {
        start(config("delay:20ms", 1));
        awaitLog("generation 1 ready");
        Config good = config.get();
        config.set(null); // the config source now fails, as a bad file would
        CompletableFuture<ReloadResult> r = new CompletableFuture<>();
        supervisor.reload(r::complete);
        ReloadResult result = r.get(5, TimeUnit.SECONDS);
        assertFalse(result.ok);
        config.set(good);
        assertEquals(1, status().path("generations").size());
    }
}
