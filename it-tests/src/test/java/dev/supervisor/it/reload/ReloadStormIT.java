package dev.supervisor.it.reload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.it.Load;
import dev.supervisor.it.SupervisorProcess;
import dev.supervisor.it.SupervisorProcess.Cli;

/**
 * 20 reload requests at once are merged, not run one after another or side by side: requests that
 * arrive while a reload runs become one more reload after it. Every request is answered; the
 * generations alive (status sampled throughout, and the log replayed line by line) never number
 * more than two besides those already draining; the last answer names the newest generation.
 * Workers take 400 ms to get ready, so that the requests surely land during a reload.
 */
class ReloadStormIT {
    static final int REQUESTS = 20;
    static final Duration STEP = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    /** One answer, in the order the answers came. */
    record Answer(int order, boolean ok, int generation, String text) {}

    @Test
    void twentyReloadsOverTheControlSocketAtOnceAreMerged() throws Exception {
        try (SupervisorProcess s = start()) {
            int port = s.port("http");
            s.awaitReady(1);
            Load.Running load = Load.against(port, "/").threads(4).requests(50_000_000).deadline(Duration.ofSeconds(60)).start();
            List<Answer> answers;
            LiveGenerations.Sampler sampler = new LiveGenerations.Sampler(s.control(), Duration.ofMillis(10));
            try (sampler) {
                List<ControlConnection> conns = new ArrayList<>();
                try {
                    for (int i = 0; i < REQUESTS; i++) {
                        conns.add(ControlConnection.open(s.control()));
                    }
                    answers = atOnce(REQUESTS, i -> {
                        ControlConnection c = conns.get(i);
                        c.send("{\"v\":1,\"cmd\":\"reload\"}\n");
                        JsonNode a = c.readAnswer(STEP);
                        return new Object[] {a.path("ok").asBoolean(), a.path("generation").asInt(), a.toString()};
                    });
                } finally {
                    for (ControlConnection c : conns) {
                        c.close();
                    }
                }
                awaitSettled(s, answers);
            }
            Load.Result result = load.stop();
            check(s, answers, sampler, "20 control-socket connections");
            assertEquals(0, result.failed(), "requests failed during the storm: " + result);
        }
    }

    @Test
    void twentySupervisorReloadCommandsStartedTogetherAreMerged() throws Exception {
        try (SupervisorProcess s = start()) {
            s.awaitReady(1);
            List<Answer> answers;
            LiveGenerations.Sampler sampler = new LiveGenerations.Sampler(s.control(), Duration.ofMillis(10));
            try (sampler) {
                answers = atOnce(REQUESTS, i -> {
                    Cli r = s.cli("reload", "--control", s.control().toString());
                    String out = r.stdout().strip();
                    int g = out.matches("generation \\d+ serves") ? Integer.parseInt(out.split(" ")[1]) : -1;
                    return new Object[] {r.exit() == 0, g, r.toString()};
                });
                awaitSettled(s, answers);
            }
            check(s, answers, sampler, "20 'supervisor reload' processes");
        }
    }

    private SupervisorProcess start() {
        return SupervisorProcess.run(tmp).listen("http", "127.0.0.1:0").readyNotify().option("--drain-timeout", "10s")
                .command(App.command("serve", "--warmup", "400")).start();
    }

    interface Request {
        /** {ok, generation, text} */
        Object[] send(int i) throws Exception;
    }

    /** Runs {@code n} requests on threads of their own, released together; their answers in arrival order. */
    private static List<Answer> atOnce(int n, Request request) throws InterruptedException {
        CountDownLatch gate = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(n);
        AtomicInteger order = new AtomicInteger();
        List<Answer> answers = new ArrayList<>();
        List<String> errors = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int index = i;
            Thread t = new Thread(() -> {
                try {
                    gate.await();
                    Object[] a = request.send(index);
                    synchronized (answers) {
                        answers.add(new Answer(order.incrementAndGet(), (Boolean) a[0], (Integer) a[1], (String) a[2]));
                    }
                } catch (Exception | AssertionError e) {
                    synchronized (answers) {
                        errors.add("request " + index + ": " + e);
                    }
                } finally {
                    done.countDown();
                }
            }, "reload-request-" + i);
            t.setDaemon(true);
            t.start();
        }
        gate.countDown();
        assertTrue(done.await(60, TimeUnit.SECONDS), "not every reload request was answered within 60 s: " + answers);
        synchronized (answers) {
            assertEquals(List.of(), errors, "every request gets an answer");
            answers.sort((a, b) -> Integer.compare(a.order(), b.order()));
            return List.copyOf(answers);
        }
    }

    /** Waits until the generation before the newest one answered has exited: the storm is over. */
    private static void awaitSettled(SupervisorProcess s, List<Answer> answers) {
        int newest = answers.stream().mapToInt(Answer::generation).max().orElse(1);
        if (newest > 1) {
            s.awaitLine("^supervisor: generation " + (newest - 1) + " exited$", STEP);
        }
    }

    private static void check(SupervisorProcess s, List<Answer> answers, LiveGenerations.Sampler sampler, String how) {
        assertEquals(REQUESTS, answers.size(), "answers: " + answers);
        for (Answer a : answers) {
            assertTrue(a.ok(), "every reload of the storm succeeds: " + a);
        }
        List<String> log = s.supervisorLog();
        long reloads = log.stream().filter(l -> l.equals("supervisor: reload requested")).count();
        long mergedNotes = log.stream().filter(l -> l.matches("^supervisor: reload requested while generation \\d+ starts: merged into one more reload after it$")).count();
        TreeSet<Integer> generations = new TreeSet<>();
        answers.forEach(a -> generations.add(a.generation()));

        JsonNode st = s.status();
        int newest = st.path("serving").asInt();
        assertEquals(generations.last(), newest, "the newest answer's generation serves: " + answers + "; status " + st);
        assertEquals(newest, answers.get(answers.size() - 1).generation(), "the last answer names the newest generation: " + answers);
        assertEquals(reloads + 1, newest, "one generation per reload run");
        assertTrue(reloads < REQUESTS && mergedNotes >= 1,
                REQUESTS + " requests ran as " + reloads + " reloads, " + mergedNotes + " merge notes; answers " + answers);
        assertEquals(reloads, generations.size(), "each reload run answered some request: " + answers);
        int first = generations.first();
        assertEquals(2, first, "the first request started generation 2 at once");
        assertEquals(1, answers.stream().filter(a -> a.generation() == 2).count(),
                "only the first request was answered by generation 2; every other one waited for a merged reload: " + answers);

        LiveGenerations.Peak sampled = sampler.peak();
        LiveGenerations.Peak replayed = LiveGenerations.replay(log);
        assertEquals(List.of(), sampler.errors(), "the status sampler");
        // The sampler must have seen the storm under way; how often it got to ask depends on the machine (8 times in 3.7 s once).
        assertTrue(sampler.samples() >= 2 && sampler.sawReloading(), "sampled " + sampler.samples() + " times, reloading seen: "
                + sampler.sawReloading());
        assertTrue(sampled.notDraining() <= 2, "status showed more than 2 generations not draining: " + sampled);
        assertTrue(replayed.notDraining() <= 2, "the log shows more than 2 generations not draining: " + replayed);
        System.out.printf("RELOAD-MEASURE storm (%s): %d requests -> %d reloads (generations %s), answers in order %s; peak by %d status "
                + "samples: %s; peak by log replay: %s%n", how, REQUESTS, reloads, generations,
                answers.stream().map(Answer::generation).toList(), sampler.samples(), sampled, replayed);
    }
}
