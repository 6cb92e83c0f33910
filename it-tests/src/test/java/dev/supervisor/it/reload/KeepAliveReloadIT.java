package dev.supervisor.it.reload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.supervisor.it.Fixtures;
import dev.supervisor.it.SupervisorProcess;
import dev.supervisor.it.SupervisorProcess.Cli;

/**
 * Reloads under keep-alive clients, against the bundled demo ({@code supervisor demo --port 0}):
 * a draining worker answers each open connection's next request with {@code Connection: close}
 * and the client reconnects, to the new generation. Not one request fails, and not one connection
 * is closed under a client that has sent a request and waits for its answer.
 *
 * <p>Each reload starts new demo JVMs, so there are fewer reloads than with the python worker:
 * 10 on the JDK the tests inherit, 4 more with the supervisor and its workers on Temurin 25.
 */
class KeepAliveReloadIT {
    static final int RELOADS = 10;
    static final int RELOADS_JDK25 = 4;
    static final int CLIENTS = 16;
    static final Duration STEP = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    @Test
    void keepAliveClientsSeeNoFailureAndNoConnectionClosedMidRequest() throws Exception {
        reloadUnderKeepAliveLoad(null, RELOADS);
    }

    /** The same, fewer times, with the supervisor and its demo workers on Temurin 25 (native access, newer NIO). */
    @Test
    void theSameOnJdk25() throws Exception {
        reloadUnderKeepAliveLoad(Fixtures.jdk25(), RELOADS_JDK25);
    }

    private void reloadUnderKeepAliveLoad(Path javaHome, int reloads) throws Exception {
        Path control = Fixtures.privateDir(tmp).resolve("ctl.sock");
        SupervisorProcess.Builder b = SupervisorProcess.run(tmp).rawArgs("demo", "--port", "0", "-n", "2", "--drain-timeout", "20s", "--control",
                control.toString());
        if (javaHome != null) {
            b.javaHome(javaHome);
        }
        String jdk = javaHome == null ? "JDK " + Runtime.version().feature() + " (as inherited)" : javaHome.toString();
        try (SupervisorProcess s = b.start()) {
            int port = s.port("http");
            s.awaitReady(1);
            Answers answers = new Answers();
            KeepAliveLoad load = new KeepAliveLoad(port, CLIENTS, 50_000_000, Duration.ofSeconds(110), answers::answered);
            assertTrue(answers.await(1, STEP), "no answer from generation 1 under load" + s.output().dump());

            long started = System.nanoTime();
            int viaCli = 0;
            for (int i = 1; i <= reloads; i++) {
                int g = i + 1;
                int mark = s.output().size();
                if (i % 3 == 0) {
                    Cli r = s.cli("reload", "--control", control.toString());
                    assertEquals(0, r.exit(), "supervisor reload #" + i + ": " + r + s.output().dump());
                    assertEquals("generation " + g + " serves", r.stdout().strip(), "reload #" + i + ": " + r);
                    viaCli++;
                } else {
                    s.signal("HUP");
                }
                s.awaitLine(mark, "^supervisor: generation " + g + " ready in \\d+ ms .*; draining generation " + (g - 1) + "$", STEP);
                answers.reloadDone(g);
                assertTrue(answers.await(g, STEP), "generation " + g + " never answered the load; seen " + answers.byGeneration() + s.output().dump());
            }
            long reloadNanos = System.nanoTime() - started;
            KeepAliveLoad.Result result = load.stop();

            Map<Integer, Integer> seen = answers.byGeneration();
            assertEquals(0, result.closedMidRequest(), "connections closed under a client mid-request: " + result);
            assertEquals(0, result.failed(), "failed requests across " + reloads + " reloads: " + result);
            assertTrue(result.closedByServer() >= reloads,
                    "each reload drains the generation the clients are on, so each closes at least one connection: " + result);
            for (int g = 1; g <= reloads + 1; g++) {
                assertTrue(seen.containsKey(g), "generation " + g + " answered nothing: " + seen);
            }
            assertEquals(reloads + 1, answers.highest(), "answers came from a generation that was never reloaded to: " + seen);
            assertEquals(List.of(), answers.regressions(), "requests answered by a generation older than the one replaced");

            ReloadTimes times = ReloadTimes.of(s.supervisorLog());
            assertEquals(reloads, times.reloads.size(), "one 'ready ...; draining' line per reload");
            System.out.printf("RELOAD-MEASURE keep-alive (demo worker, 2 per generation, %s): %d reloads (%d by supervisor reload, %d by "
                    + "SIGHUP) in %d ms under %d keep-alive clients; %s; %.3f failed requests per reload, %d connections closed "
                    + "mid-request; %s%n", jdk, reloads, viaCli, reloads - viaCli, reloadNanos / 1_000_000, CLIENTS, result,
                    result.failed() / (double) reloads, result.closedMidRequest(), times.summary());

            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(30)), "graceful stop" + s.output().dump());
        }
    }
}
