package dev.supervisor.it.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import dev.supervisor.it.Fixtures;
import dev.supervisor.it.Http;
import dev.supervisor.it.Load;
import dev.supervisor.it.Output;
import dev.supervisor.it.SupervisorProcess;

/**
 * Each example server under {@code examples/} (JDK Selector, Netty, Jetty, Tomcat) run as a
 * worker of the real distribution, with the supervisor and the worker on the same JDK, 17 or 25:
 * it serves; it survives reloads (SIGHUP) under a bounded load from 127.0.0.1 with not one request
 * refused, reset, unanswered or answered wrongly, every old worker exiting 0 by itself once
 * drained; and a slow request that is in flight when its worker is told to drain completes, with
 * the old generation's answer. No worker's JVM prints the launcher's "Picked up" note.
 *
 * <p>Reloads: {@value #FULL_RELOADS} for every example on JDK 17, {@value #SHORT_RELOADS} on JDK
 * 25 (each reload starts a JVM; the full count on both JDKs would double the run time for little
 * more evidence: the JDK-specific part, wrapping the fd in a channel, runs in every worker start).
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class JavaExamplesIT {
    static final int FULL_RELOADS = 6;
    static final int SHORT_RELOADS = 2;
    /** A JVM worker under a loaded CI machine can take seconds to be ready; the supervisor's own limit is 60 s. */
    private static final Duration READY = Duration.ofSeconds(45);
    private static final Duration DRAINED = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    static Stream<Arguments> examplesAndJdks() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (JavaExample e : JavaExample.values()) {
            b.add(Arguments.of(e, 17, FULL_RELOADS));
        }
        for (JavaExample e : JavaExample.values()) {
            b.add(Arguments.of(e, 25, SHORT_RELOADS));
        }
        return b.build();
    }

    @ParameterizedTest(name = "{0} on JDK {1}: {2} reloads under load, a slow request across a drain")
    @MethodSource("examplesAndJdks")
    void servesReloadsAndDrains(JavaExample example, int feature, int reloads) throws Exception {
        Path jdk = feature == 17 ? Fixtures.jdk17() : Fixtures.jdk25();
        try (SupervisorProcess s = example.supervisor(tmp, jdk).command(example.command(jdk)).start()) {
            int port = s.port("http");
            s.awaitLine("^supervisor: generation 1 ready in \\d+ ms", READY);
            assertEquals(1, example.generation(Http.get(port, "/")), "generation 1 answers");

            // Reloads, one after another, while 4 clients keep sending requests.
            Load.Running load = Load.against(port, "/").threads(4).requests(Integer.MAX_VALUE).deadline(Duration.ofMinutes(3))
                    .countBy(r -> generationKey(example, r)).start();
            long slowestReloadNanos = 0;
            for (int g = 2; g <= reloads + 1; g++) {
                long t0 = System.nanoTime();
                reload(s, g);
                slowestReloadNanos = Math.max(slowestReloadNanos, System.nanoTime() - t0);
            }
            for (int g = 1; g <= reloads; g++) {
                assertDrained(s, g);
            }
            Load.Result r = load.stop();
            assertEquals(0, r.failed(), reloads + " reloads under load: " + r);
            assertTrue(r.answered() >= 100, "the load was answered throughout: " + r);
            assertTrue(r.byKey().size() > reloads / 2, "answers came from most of the " + (reloads + 1) + " generations: " + r);
            assertTrue(r.byKey().containsKey(Integer.toString(reloads + 1)), "the last generation answered: " + r);

            // A slow request, in flight in the serving generation when it is told to drain.
            int serving = reloads + 1;
            // Long enough to outlast a reload, short enough for the examples' 10 s drain limit.
            long slowMs = Math.min(8000, Math.max(2000, 2 * TimeUnit.NANOSECONDS.toMillis(slowestReloadNanos)));
            int mark = s.output().size();
            CompletableFuture<Http.Response> slow = Http.getAsync(port, "/slow?ms=" + slowMs);
            CompletableFuture<Integer> answeredAt = slow.thenApply(x -> s.output().size());
            s.awaitLine(mark, "^\\[" + serving + "\\.0 \\d+\\] slow request: answering in " + slowMs + " ms$", READY);
            Output.Match drainStarted = reload(s, serving + 1);
            Http.Response answer = slow.get(slowMs + 20_000, TimeUnit.MILLISECONDS);
            assertEquals(serving, example.generation(answer), "the old generation answered the slow request: " + answer);
            assertTrue(drainStarted.index() < answeredAt.get(), "the answer came after the drain started (" + drainStarted.line()
                    + "), so it was in flight across it; slow request " + slowMs + " ms" + s.output().dump());
            assertDrained(s, serving);
            assertEquals(serving + 1, example.generation(Http.get(port, "/")));

            s.signal("TERM");
            assertEquals(0, s.awaitExit(DRAINED.plusSeconds(10)));
            assertDrained(s, serving + 1);
            // The jar's manifest carries the library's JVM flags, so the supervisor passes no
            // JDK_JAVA_OPTIONS and the launcher prints no note at any start.
            assertTrue(s.output().lines().stream().noneMatch(l -> l.text().contains("Picked up")),
                    "no \"Picked up JDK_JAVA_OPTIONS\" note from any worker" + s.output().dump());
        }
    }

    /** SIGHUP, then waits for "generation G ready ...; draining generation G-1"; that line. */
    private static Output.Match reload(SupervisorProcess s, int generation) {
        int mark = s.output().size();
        s.signal("HUP");
        return s.awaitLine(mark, "^supervisor: generation " + generation + " ready in \\d+ ms.*; draining generation " + (generation - 1)
                + "$", READY);
    }

    /** The worker of generation {@code generation} exits by itself, code 0, after its drain: not killed at the drain timeout. */
    private static void assertDrained(SupervisorProcess s, int generation) {
        Output.Match end = s.awaitLine("^supervisor: worker " + generation + "\\.0 \\(pid \\d+\\) (?!still running)(.*)$", DRAINED);
        assertEquals("exited with code 0 (drained)", end.group(1), "worker " + generation + ".0 after its drain" + s.output().dump());
    }

    /** The generation that answered, for Load's counts; a wrong answer counts as a failure of the load. */
    private static String generationKey(JavaExample example, Http.Response r) {
        try {
            return Integer.toString(example.generation(r));
        } catch (AssertionError e) {
            throw new IllegalStateException(e.getMessage());
        }
    }
}
