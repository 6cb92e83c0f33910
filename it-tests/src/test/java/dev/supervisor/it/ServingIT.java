package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Serving through the supervisor's socket with the python fixture ({@code worker.py http}, one
 * request at a time per process, answering its pid): several workers on one port, a graceful stop
 * with a request in flight, and a worker that dies while clients keep connecting.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ServingIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** {@code -n 2}: both workers accept from the one socket, and a busy one leaves the next connection to the other. */
    @Test
    void twoWorkersShareOnePort() throws Exception {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").workers(2).readyNotify()
                .command(Fixtures.worker("http")).start()) {
            int port = s.port("web");
            s.awaitReady(1);
            List<Long> pids = s.workerPids(1);
            assertEquals(2, pids.size(), "status --json lists two workers: " + s.status());

            CompletableFuture<Http.Response> held = Http.getAsync(port, "/hold");
            long busy = Long.parseLong(s.awaitLine("^\\[1\\.[01] (\\d+)\\] holding request$", Duration.ofSeconds(10)).group(1));
            long other = pid(Http.get(port, "/pid"));
            assertTrue(pids.contains(busy) && pids.contains(other), "pids " + busy + ", " + other + " are the workers " + pids);
            assertNotEquals(busy, other, "while one worker holds a request, the other answers");
            SupervisorProcess.signal(busy, "USR1");
            Http.Response heldAnswer = held.get(15, TimeUnit.SECONDS);
            assertEquals(busy, pid(heldAnswer));

            Load.Result r = Load.against(port, "/pid").threads(4).requests(200).deadline(Duration.ofSeconds(30))
                    .countBy(resp -> Long.toString(pid(resp))).run();
            assertEquals(0, r.failed(), r.toString());
            assertEquals(200, r.answered(), r.toString());
            Set<Long> answered = new HashSet<>();
            r.byKey().keySet().forEach(k -> answered.add(Long.parseLong(k)));
            assertEquals(Set.copyOf(pids), answered, "with both idle, a load is answered by both: " + r);

            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(20)));
        }
    }

    /**
     * SIGTERM while a request is in flight (held by the worker until it gets the drain signal,
     * then 300 ms more of work): the request completes with 200, then the supervisor exits 0.
     */
    @Test
    void termLetsTheRequestInFlightComplete() throws Exception {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").readyNotify()
                .command(Fixtures.worker("http")).start()) {
            int port = s.port("web");
            s.awaitReady(1);
            CompletableFuture<Http.Response> inFlight = Http.getAsync(port, "/hold?ms=300");
            Output.Match held = s.awaitLine("^\\[1\\.0 (\\d+)\\] holding request$", Duration.ofSeconds(10));

            s.signal("TERM");
            Http.Response r = inFlight.get(15, TimeUnit.SECONDS);
            assertEquals(200, r.status(), r.toString());
            assertEquals(Long.parseLong(held.group(1)), pid(r));
            assertEquals("[\"SIGTERM\"]", JSON.readTree(r.body()).path("released_by").toString(),
                    "the request was in flight when the drain signal reached the worker: " + r);
            assertEquals(0, s.awaitExit(Duration.ofSeconds(20)));
            s.awaitLine("^supervisor: worker 1\\.0 \\(pid " + held.group(1) + "\\) exited with code 0 \\(drained\\)$");
            s.awaitLine("^supervisor: stopped$");
            assertTrue(s.supervisorLog().stream().noneMatch(l -> l.contains("kill")), "nothing was killed: " + s.supervisorLog());
        }
    }

    /**
     * The worker exits (code 3) after every 40 answers while 4 clients keep connecting: the
     * supervisor restarts the slot, the socket stays open meanwhile, and not one connection is
     * refused or lost.
     */
    @Test
    void crashingWorkerIsRestartedAndNoConnectionIsRefused() throws Exception {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").readyNotify()
                .command(Fixtures.worker("http", "--exit-after", "40")).start()) {
            int port = s.port("web");
            s.awaitReady(1);

            Load.Result r = Load.against(port, "/pid").threads(4).requests(150).deadline(Duration.ofSeconds(40))
                    .countBy(resp -> Long.toString(pid(resp))).run();
            assertEquals(0, r.failed(), "no connection refused, reset or unanswered across the crashes: " + r);
            assertEquals(150, r.answered(), r.toString());
            assertTrue(r.byKey().size() >= 3, "answered by the first worker and its restarts: " + r);

            Output.Match crash = s.awaitLine("^supervisor: worker 1\\.0 \\(pid (\\d+)\\) exited with code 3$");
            Output.Match restart = s.awaitLine(crash.index(), "^supervisor: restarting generation 1 worker 0 in 100 ms$", Duration.ofSeconds(5));
            Output.Match again = s.awaitLine(restart.index(), "^supervisor: started worker 1\\.0 \\(pid (\\d+)\\)", Duration.ofSeconds(5));
            assertNotEquals(crash.group(1), again.group(1));

            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(20)));
        }
    }

    /**
     * A worker killed with SIGKILL (its pid read from {@code status --json}) is restarted in its
     * slot; clients that connect meanwhile are served by the other worker or by the restart.
     */
    @Test
    void killedWorkerIsRestartedInItsSlot() throws Exception {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").workers(2).readyNotify()
                .command(Fixtures.worker("http")).start()) {
            int port = s.port("web");
            s.awaitReady(1);
            JsonNode worker0 = worker(s.status(), 0);
            long victim = worker0.path("pid").asLong();

            int mark = s.output().size();
            ProcessHandle.of(victim).orElseThrow().destroyForcibly();
            s.awaitLine(mark, "^supervisor: worker 1\\.0 \\(pid " + victim + "\\) killed by SIGKILL$", Duration.ofSeconds(10));
            Load.Running load = Load.against(port, "/pid").threads(2).requests(100).deadline(Duration.ofSeconds(30)).start();
            Output.Match started = s.awaitLine(mark, "^supervisor: started worker 1\\.0 \\(pid (\\d+)\\)", Duration.ofSeconds(10));
            Load.Result r = load.await();
            assertEquals(0, r.failed(), r.toString());
            assertEquals(100, r.answered(), r.toString());

            JsonNode restarted = worker(s.status(), 0);
            assertEquals(Long.parseLong(started.group(1)), restarted.path("pid").asLong(), "status shows the new pid in slot 0");
            assertEquals(1, restarted.path("restarts").asInt(), "status counts the restart: " + restarted);
            assertTrue(Set.of(restarted.path("pid").asLong(), worker(s.status(), 1).path("pid").asLong()).contains(pid(Http.get(port, "/pid"))));

            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(20)));
        }
    }

    private static JsonNode worker(JsonNode status, int slot) {
        for (JsonNode g : status.path("generations")) {
            for (JsonNode w : g.path("workers")) {
                if (g.path("generation").asInt() == 1 && w.path("worker").asInt() == slot) {
                    return w;
                }
            }
        }
        throw new AssertionError("no worker 1." + slot + " in status " + status);
    }

    private static long pid(Http.Response r) {
        assertEquals(200, r.status(), r.toString());
        try {
            return JSON.readTree(r.body()).path("pid").asLong();
        } catch (java.io.IOException e) {
            throw new AssertionError("not the fixture's JSON: " + r, e);
        }
    }
}
