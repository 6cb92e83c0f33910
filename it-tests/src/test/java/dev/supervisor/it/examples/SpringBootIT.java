package dev.supervisor.it.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import dev.supervisor.it.Fixtures;
import dev.supervisor.it.Http;
import dev.supervisor.it.Load;
import dev.supervisor.it.Output;
import dev.supervisor.it.SupervisorProcess;

/**
 * The Spring Boot example apps (Tomcat, Jetty, WebFlux on Reactor Netty), each a plain Boot jar
 * plus supervisor-spring-boot-starter, as workers of the real distribution with listeners
 * {@code http} and {@code management}: they serve on {@code http} and the actuator on
 * {@code management}; they survive reloads under a bounded load with not one request failed,
 * every old JVM exiting 0 by itself after Spring's graceful shutdown, its readiness
 * REFUSING_TRAFFIC; the actuator answers on its own listener after every reload; a slow request
 * in flight when its generation is told to drain completes with 200 from that generation; and
 * the JVM prints no warning and no "Picked up JDK_JAVA_OPTIONS" note. Outside supervisor the same
 * jar binds {@code server.port} as usual.
 *
 * <p>Reloads: 6 on JDK 17 for Tomcat (Boot's default server), 5 for Jetty and WebFlux, 2 on
 * JDK 25: each reload starts a Spring Boot JVM (about 16 s a reload under this load on 2 cores),
 * and what differs between servers and JDKs runs at every start. The slow request rides the last
 * reload under load, so it costs no reload of its own. {@code -Dit.spring.reloads=20
 * -Dit.spring.other-reloads=20 -Dit.spring.jdk25-reloads=5} runs every case at the full count
 * (21 min here).
 */
@Timeout(value = 1800, unit = TimeUnit.SECONDS)
class SpringBootIT {
    /** Reloads of Tomcat on JDK 17, of Jetty and WebFlux on JDK 17, and of every server on JDK 25. */
    static final int TOMCAT_RELOADS = Integer.getInteger("it.spring.reloads", 6);
    static final int OTHER_RELOADS = Integer.getInteger("it.spring.other-reloads", 5);
    static final int JDK25_RELOADS = Integer.getInteger("it.spring.jdk25-reloads", 2);
    /** -Dit.spring.cases=tomcat17,jetty25: only those cases (example id and JDK); default all. */
    private static final String CASES = System.getProperty("it.spring.cases", "");
    /** A Boot JVM on a loaded 2-core machine can take a minute to be ready: the supervisor is given 120 s (--ready-timeout). */
    private static final Duration READY = Duration.ofSeconds(130);
    /**
     * Spring's graceful shutdown is given 150 s ({@code spring.lifecycle.timeout-per-shutdown-phase},
     * default 30 s) and the supervisor 180 s ({@code --drain-timeout}), so that the slow request
     * can outlast a reload even where a Boot JVM takes a minute to start.
     */
    private static final Duration SHUTDOWN_PHASE = Duration.ofSeconds(150);
    private static final Duration DRAINED = Duration.ofSeconds(200);

    @TempDir
    Path tmp;

    static Stream<Arguments> examplesAndJdks() {
        return Stream.of(Arguments.of(SpringExample.TOMCAT, 17, TOMCAT_RELOADS), Arguments.of(SpringExample.JETTY, 17, OTHER_RELOADS),
                Arguments.of(SpringExample.WEBFLUX, 17, OTHER_RELOADS), Arguments.of(SpringExample.TOMCAT, 25, JDK25_RELOADS),
                Arguments.of(SpringExample.JETTY, 25, JDK25_RELOADS), Arguments.of(SpringExample.WEBFLUX, 25, JDK25_RELOADS))
                .filter(a -> CASES.isBlank() || List.of(CASES.split(",")).contains(((SpringExample) a.get()[0]).id + a.get()[1]));
    }

    @ParameterizedTest(name = "{0} on JDK {1}: {2} reloads under load, actuator on its listener, a slow request across a drain")
    @MethodSource("examplesAndJdks")
    void servesReloadsAndDrains(SpringExample example, int feature, int reloads) throws Exception {
        Path jdk = feature == 17 ? Fixtures.jdk17() : Fixtures.jdk25();
        try (SupervisorProcess s = SupervisorProcess.run(tmp).javaHome(jdk).listen("http", "127.0.0.1:0")
                .listen("management", "127.0.0.1:0").readyNotify().option("--ready-timeout", "120s").option("--drain-timeout", "180s").command(command(example, jdk)).start()) {
            int port = s.port("http");
            int management = s.port("management");
            Output.Match started = s.awaitLine("^supervisor: generation 1 ready in (\\d+) ms", READY);
            assertEquals(1, example.generation(Http.get(port, "/")), "generation 1 answers");
            assertHealthy(management);

            Load.Running load = Load.against(port, "/").threads(4).requests(Integer.MAX_VALUE).deadline(READY.multipliedBy(reloads + 1))
                    .countBy(r -> generationKey(example, r)).start();
            // The slowest start so far, the first generation's included, sizes the slow request below.
            long slowestStartNanos = TimeUnit.MILLISECONDS.toNanos(Long.parseLong(started.group(1)));
            for (int g = 2; g <= reloads; g++) {
                long t0 = System.nanoTime();
                reload(s, g);
                slowestStartNanos = Math.max(slowestStartNanos, System.nanoTime() - t0);
                assertHealthy(management);
            }

            // The last reload under load drains a generation with a slow request in flight: longer
            // than a reload, within the graceful shutdown's time. It must reach the serving
            // generation, not one still draining (which owes an answer to what it accepts).
            int serving = reloads;
            for (int g = 1; g < serving; g++) {
                assertDrained(s, g);
            }
            long slowMs = Math.min(SHUTDOWN_PHASE.toMillis() - 30_000, Math.max(2000, 2 * TimeUnit.NANOSECONDS.toMillis(slowestStartNanos)));
            int mark = s.output().size();
            CompletableFuture<Http.Response> slow = CompletableFuture.supplyAsync(() -> {
                try {
                    return Http.get(port, "/slow?ms=" + slowMs, Http.CONNECT_TIMEOUT, Duration.ofMillis(slowMs).plus(READY));
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            CompletableFuture<Integer> answeredAt = slow.thenApply(x -> s.output().size());
            s.awaitLine(mark, "^\\[" + serving + "\\.0 \\d+\\] slow request: answering in " + slowMs + " ms$", READY);
            Output.Match drainStarted = reload(s, serving + 1);
            assertHealthy(management);
            Http.Response answer = slow.get(slowMs + READY.toMillis(), TimeUnit.MILLISECONDS);
            assertEquals(serving, example.generation(answer), "the old generation answered the slow request: " + answer);
            assertTrue(drainStarted.index() < answeredAt.get(), "the answer came after the drain started (" + drainStarted.line()
                    + "), so it was in flight across it; slow request " + slowMs + " ms" + s.output().dump());
            assertDrained(s, serving);
            assertEquals(serving + 1, example.generation(Http.get(port, "/")));
            Load.Result r = load.stop();
            assertEquals(0, r.failed(), reloads + " reloads under load: " + r);
            assertTrue(r.answered() >= 100, "the load was answered throughout: " + r);
            assertTrue(r.byKey().containsKey(Integer.toString(reloads + 1)), "the last generation answered: " + r);
            assertHealthy(management);

            s.signal("TERM");
            assertEquals(0, s.awaitExit(DRAINED.plusSeconds(10)));
            assertDrained(s, reloads + 1);
            for (int g = 1; g <= reloads + 1; g++) {
                s.awaitLine("^\\[" + g + "\\.0 \\d+\\] readiness: REFUSING_TRAFFIC$", Duration.ZERO);
            }
            assertNoJvmWarning(s.output().lines(Output.Stream.STDOUT), s.output().lines(Output.Stream.STDERR));
        }
    }

    /**
     * The same jar with no supervisor: the starter stays out of the way and the app binds
     * {@code server.port}, as without it.
     */
    @ParameterizedTest(name = "{0} outside supervisor binds server.port")
    @EnumSource(SpringExample.class)
    void outsideSupervisorBindsServerPort(SpringExample example) throws Exception {
        Path jdk = Fixtures.jdk17();
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort(); // free now; the app binds it below
        }
        List<String> command = example.command(jdk);
        command.addAll(List.of("--server.port=" + port, "--server.address=127.0.0.1"));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().keySet().removeIf(k -> k.startsWith("LISTEN_") || k.startsWith("SUPERVISOR_") || k.equals("NOTIFY_SOCKET")
                || k.endsWith("JAVA_OPTIONS") || k.equals("JAVA_TOOL_OPTIONS"));
        Process p = pb.start();
        Output out = new Output();
        Thread pump = new Thread(() -> {
            try (var r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), java.nio.charset.StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    System.out.println("[" + example + "] " + line);
                    out.add(Output.Stream.STDOUT, line);
                }
            } catch (IOException e) {
                // the process ended
            } finally {
                out.ended(Output.Stream.STDOUT);
            }
        });
        pump.setDaemon(true);
        pump.start();
        try {
            out.await(0, Output.Stream.STDOUT, java.util.regex.Pattern.compile("readiness: ACCEPTING_TRAFFIC"), READY);
            assertEquals(-1, example.generation(Http.get(port, "/")), "answers on server.port, not under a supervisor");
            assertTrue(out.lines(Output.Stream.STDOUT).stream().noneMatch(l -> l.contains("supervisor.spring.")),
                    "the starter logged nothing: " + out.dump());
            assertNoJvmWarning(out.lines(Output.Stream.STDOUT), List.of());
        } finally {
            p.destroy();
            if (!p.waitFor(DRAINED.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
    }

    private static void assertNoJvmWarning(List<String> stdout, List<String> stderr) {
        for (List<String> lines : List.of(stdout, stderr)) {
            for (String l : lines) {
                assertTrue(!l.contains("Picked up ") && !l.matches("^(\\[\\d+\\.\\d+ \\d+\\] )?(WARNING|OpenJDK .*warning):.*"),
                        "a JVM warning or note in the app's log: " + l);
            }
        }
    }

    /** The example's command, with the graceful shutdown's time raised to {@link #SHUTDOWN_PHASE}. */
    private static List<String> command(SpringExample example, Path jdk) {
        List<String> c = example.command(jdk);
        c.add("--spring.lifecycle.timeout-per-shutdown-phase=" + SHUTDOWN_PHASE.toSeconds() + "s");
        return c;
    }

    /**
     * Liveness, not the whole health: a draining generation's readiness is REFUSING_TRAFFIC (its
     * health OUT_OF_SERVICE, as Spring means it) until it closes its copy of the listener.
     */
    private static void assertHealthy(int management) throws IOException {
        Http.Response h = Http.get(management, "/actuator/health/liveness");
        assertEquals(200, h.status(), "the actuator on its own listener: " + h);
        assertTrue(h.body().contains("\"status\":\"UP\""), "the actuator says UP: " + h);
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
    private static String generationKey(SpringExample example, Http.Response r) {
        try {
            return Integer.toString(example.generation(r));
        } catch (AssertionError e) {
            throw new IllegalStateException(e.getMessage());
        }
    }
}
