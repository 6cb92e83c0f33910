package dev.supervisor.it.reload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.it.Fixtures;
import dev.supervisor.it.Http;
import dev.supervisor.it.Load;
import dev.supervisor.it.SupervisorProcess;
import dev.supervisor.it.SupervisorProcess.Cli;

/**
 * A bad release rolls back by itself, under load: the config file's command is changed to one
 * that (a) exits before it is ready (and the release adds a listener, which is closed again with
 * the failed generation), then (b) never gets ready; each {@code supervisor reload} exits 1 with
 * the reason and the failed worker's last stderr lines, no request fails, and generation 1 still
 * answers. A config file that is not JSON fails the same way. Then a good release reloads as usual.
 */
class BadReleaseIT {
    static final Duration STEP = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    @Test
    void failedReloadsLeaveTheOldGenerationServing() throws Exception {
        Path config = App.writeConfig(tmp.resolve("supervisor.json"), settings(App.command("serve"), "http=127.0.0.1:0"));
        Path control = Fixtures.privateDir(tmp).resolve("ctl.sock");
        try (SupervisorProcess s = SupervisorProcess.run(tmp).rawArgs("run", "-c", config.toString(), "--ready", "notify", "--ready-timeout", "2s",
                "--control", control.toString()).start()) {
            int port = s.port("http");
            s.awaitReady(1);
            Answers answers = new Answers();
            Load.Running load = Load.against(port, "/").threads(8).requests(50_000_000).deadline(Duration.ofSeconds(60))
                    .countBy(r -> {
                        answers.answered(FreshConnectionReloadIT.generation(r.body()));
                        return null;
                    }).start();
            assertTrue(answers.await(1, STEP), "no answer from generation 1 under load" + s.output().dump());

            // (a) the new worker exits before it is ready; the release also adds a listener, api
            App.writeConfig(config, settings(App.command("exit-early", "3"), "http=127.0.0.1:0", "api=127.0.0.1:0"));
            Cli early = reload(s, control);
            assertEquals(1, early.exit(), "reload to a worker that exits at once: " + early + s.output().dump());
            List<String> err = early.stderr().lines().toList();
            assertTrue(err.get(0).matches("^supervisor: reload failed: worker 2\\.[01] \\(pid \\d+\\) exited with code 3 before it was ready$"),
                    "first stderr line names the worker and how it ended: " + early);
            assertTrue(err.contains("  | loading settings from /etc/app/settings.toml")
                    && err.contains("  | error: database at 10.0.0.7:5432 refused the connection"),
                    "the failed worker's last stderr lines follow: " + early);
            assertEquals("", early.stdout(), "nothing on stdout for a failed reload: " + early);
            s.awaitLine("^supervisor: generation 2 exited$", STEP);
            // api was bound for generation 2 only: with it gone, api is closed, not left listening with no one to accept.
            int api = Integer.parseInt(s.awaitLine("^supervisor: closed listener api=tcp://127\\.0\\.0\\.1:(\\d+): no generation uses it$", STEP)
                    .group(1));
            assertThrows(ConnectException.class, () -> {
                try (Socket c = new Socket()) {
                    c.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), api), 5000);
                }
            }, "the failed release's listener, port " + api + ", refuses connections");
            oldGenerationServes(s, port);

            // A config file that is not JSON fails the reload before any worker starts.
            Files.writeString(config, "{\"command\": [\"python3\", ");
            Cli broken = reload(s, control);
            assertEquals(1, broken.exit(), "reload with a broken config file: " + broken);
            assertTrue(broken.stderr().startsWith("supervisor: reload failed: config " + config + " is not valid JSON"), broken.toString());
            oldGenerationServes(s, port);

            // (b) the new worker never says READY=1: --ready-timeout 2s
            App.writeConfig(config, settings(App.command("never-ready"), "http=127.0.0.1:0"));
            long t0 = System.nanoTime();
            Cli stuck = reload(s, control);
            long tookMs = (System.nanoTime() - t0) / 1_000_000;
            assertEquals(1, stuck.exit(), "reload to a worker that is never ready: " + stuck + s.output().dump());
            err = stuck.stderr().lines().toList();
            assertEquals("supervisor: reload failed: generation 3 was not ready within 2s", err.get(0), "the reason: " + stuck);
            assertTrue(err.contains("  | warming the cache (this never ends)"), "the stuck worker's last stderr line follows: " + stuck);
            assertTrue(tookMs >= 2000, "reload gave up after " + tookMs + " ms, before --ready-timeout 2s");
            s.awaitLine("^supervisor: generation 3 exited$", STEP);
            oldGenerationServes(s, port);

            // a good release again
            App.writeConfig(config, settings(App.command("serve"), "http=127.0.0.1:0"));
            int mark = s.output().size();
            Cli good = reload(s, control);
            assertEquals(0, good.exit(), "reload to a good worker: " + good + s.output().dump());
            assertEquals("generation 4 serves", good.stdout().strip());
            s.awaitLine(mark, "^supervisor: generation 4 ready in \\d+ ms .*; draining generation 1$", STEP);
            answers.reloadDone(4);
            assertTrue(answers.await(4, STEP), "generation 4 never answered the load" + s.output().dump());
            Load.Result result = load.stop();

            assertEquals(0, result.failed(), "failed requests across two failed reloads and a good one: " + result);
            Map<Integer, Integer> seen = answers.byGeneration();
            assertEquals(List.of(1, 4), List.copyOf(seen.keySet()), "only generations 1 and 4 ever answered: " + seen);
            assertEquals(List.of(), answers.regressions());
            System.out.println("RELOAD-MEASURE bad release: 2 failed reloads + 1 good under 8 clients: " + result);

            s.signal("TERM");
            assertEquals(0, s.awaitExit(STEP), "graceful stop" + s.output().dump());
        }
    }

    private static Map<String, Object> settings(List<String> command, String... listen) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("listen", List.of(listen));
        m.put("command", command);
        m.put("workers", 2);
        return m;
    }

    private static Cli reload(SupervisorProcess s, Path control) {
        return s.cli("reload", "--control", control.toString());
    }

    /** Generation 1 answers, and status says it serves, alone and READY. */
    private static void oldGenerationServes(SupervisorProcess s, int port) throws Exception {
        for (int i = 0; i < 5; i++) {
            Http.Response r = Http.get(port, "/");
            assertEquals(200, r.status());
            assertEquals(1, FreshConnectionReloadIT.generation(r.body()), "the old generation answers: " + r);
        }
        JsonNode st = s.status();
        assertEquals(1, st.path("serving").asInt(), "status: " + st);
        assertEquals(false, st.path("reloading").asBoolean(), "status: " + st);
        assertEquals(1, st.path("generations").size(), "only generation 1 is left: " + st);
        JsonNode g = st.path("generations").get(0);
        assertEquals(1, g.path("generation").asInt());
        assertEquals("READY", g.path("state").asText());
        assertEquals(2, g.path("workers").size(), "both workers of generation 1 still run: " + st);
    }
}
