package dev.supervisor.it.reload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.supervisor.it.Load;
import dev.supervisor.it.SupervisorProcess;
import dev.supervisor.it.SupervisorProcess.Cli;

/**
 * The promise of the product, at volume: 30 reloads while 16 clients each open a fresh connection
 * per request, and not one request fails; each reload's new generation answers, and no request
 * sent after a reload is answered by a generation older than the one it replaced.
 *
 * <p>Every fifth reload is {@code supervisor reload} (which must exit 0 and name the generation),
 * the others SIGHUP (done when the supervisor logs "generation G ready ...; draining G-1").
 */
class FreshConnectionReloadIT {
    static final int RELOADS = 30;
    static final int CLIENTS = 16;
    static final Duration STEP = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    @Test
    void thirtyReloadsUnderLoadLoseNoRequest() throws Exception {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("http", "127.0.0.1:0").workers(2).readyNotify()
                .option("--drain-timeout", "10s")
                // 16 clients saturate both cores, so at nice 19 every reload would wait out the 2s bound:
                // this test is about losing nothing (StartingPriorityIT is about priority), and it raises early.
                .option("--starting-priority-for", "250ms").command(App.command("serve")).start()) {
            int port = s.port("http");
            s.awaitReady(1);
            Answers answers = new Answers();
            Load.Running load = Load.against(port, "/").threads(CLIENTS).requests(50_000_000).deadline(Duration.ofSeconds(100))
                    .countBy(r -> {
                        answers.answered(generation(r.body()));
                        return null;
                    }).start();
            assertTrue(answers.await(1, STEP), "no answer from generation 1 under load" + s.output().dump());

            long started = System.nanoTime();
            int viaCli = 0;
            for (int i = 1; i <= RELOADS; i++) {
                int g = i + 1;
                int mark = s.output().size();
                if (i % 5 == 0) {
                    Cli r = s.cli("reload", "--control", s.control().toString());
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
            Load.Result result = load.stop();

            Map<Integer, Integer> seen = answers.byGeneration();
            assertEquals(0, result.failed(), "failed requests across " + RELOADS + " reloads: " + result);
            for (int g = 1; g <= RELOADS + 1; g++) {
                assertTrue(seen.containsKey(g), "generation " + g + " answered nothing: " + seen);
            }
            assertEquals(RELOADS + 1, answers.highest(), "answers came from a generation that was never reloaded to: " + seen);
            assertEquals(List.of(), answers.regressions(), "requests answered by a generation older than the one replaced");
            assertEquals(result.answered(), answers.total());

            ReloadTimes times = ReloadTimes.of(s.supervisorLog());
            assertEquals(RELOADS, times.reloads.size(), "one 'ready ...; draining' line per reload");
            System.out.printf("RELOAD-MEASURE fresh connections: %d reloads (%d by supervisor reload, %d by SIGHUP) in %d ms under %d "
                    + "clients; %d requests answered, %d failed = %.3f failed requests per reload; %s%n", RELOADS, viaCli,
                    RELOADS - viaCli, reloadNanos / 1_000_000, CLIENTS, result.answered(), result.failed(),
                    result.failed() / (double) RELOADS, times.summary());

            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(20)), "graceful stop" + s.output().dump());
        }
    }

    /** The "generation" of a JSON answer body; -1 when there is none (which {@link Answers} reports). */
    static int generation(String body) {
        try {
            return App.JSON.readTree(body).path("generation").asInt(-1);
        } catch (IOException e) {
            return -1;
        }
    }
}
