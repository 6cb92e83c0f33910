package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A listener is its bound address: renaming it, swapping two names and spelling the address
 * differently keep the socket under load (0 failed requests); and a socket a worker shut down is
 * noticed, blamed on its generation, shown in status, and replaced by a fresh one on the next
 * reload, which serves again.
 */
class ListenerIdentityIT {
    static final Duration STEP = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    @Test
    void renameSwapAndRespellUnderLoadKeepTheSockets() throws Exception {
        Path config = RuntimeWorker.writeConfig(tmp.resolve("supervisor.json"), "web=127.0.0.1:0", "api=127.0.0.1:0");
        try (SupervisorProcess s = SupervisorProcess.run(tmp)
                .rawArgs("run", "-c", config.toString(), "--control", tmp.resolve("ctl.sock").toString()).start()) {
            int one = s.port("web");
            int two = s.port("api");
            s.awaitReady(1);
            Load.Running loadOne = Load.against(one, "/").threads(2).requests(1_000_000).deadline(Duration.ofSeconds(120)).start();
            Load.Running loadTwo = Load.against(two, "/").threads(2).requests(1_000_000).deadline(Duration.ofSeconds(120)).start();

            int generation = 1;
            String[][] steps = {
                {"http=127.0.0.1:" + one, "api=127.0.0.1:" + two}, // rename
                {"api=127.0.0.1:" + one, "http=127.0.0.1:" + two}, // swap
                {"api=localhost:" + one, "http=tcp://127.0.0.1:" + two}, // respell
            };
            for (String[] listen : steps) {
                RuntimeWorker.writeConfig(config, listen);
                SupervisorProcess.Cli r = s.cli("reload", "--control", s.control().toString());
                generation++;
                assertEquals(0, r.exit(), "reload to " + List.of(listen) + ": " + r + s.output().dump());
                JsonNode a = RuntimeWorker.get(one, "/");
                assertEquals(generation, a.path("generation").asInt());
                assertEquals(listen[0].substring(0, listen[0].indexOf('=')), a.path("listener").asText(), "port " + one + " under its new name");
                assertEquals(listen[1].substring(0, listen[1].indexOf('=')), RuntimeWorker.get(two, "/").path("listener").asText());
            }
            Load.Result r1 = loadOne.stop();
            Load.Result r2 = loadTwo.stop();
            assertEquals(0, r1.failed(), "port " + one + " across the reloads: " + r1);
            assertEquals(0, r2.failed(), "port " + two + " across the reloads: " + r2);
            assertTrue(r1.answered() > 0 && r2.answered() > 0, r1 + " / " + r2);

            List<String> names = new ArrayList<>();
            for (JsonNode l : s.status().path("listeners")) {
                names.add(l.path("name").asText() + "=" + l.path("bound").asText() + " " + l.path("state").asText());
            }
            assertEquals(List.of("api=tcp://127.0.0.1:" + one + " LISTENING", "http=tcp://127.0.0.1:" + two + " LISTENING"), names,
                    "two sockets, bound once each");

            s.signal("TERM");
            assertEquals(0, s.awaitExit(STEP), "graceful stop" + s.output().dump());
        }
    }

    @Test
    void aListenerAWorkerShutDownIsReplacedByTheNextReload() throws Exception {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").readyNotify()
                .command(RuntimeWorker.command("serve")).start()) {
            int port = s.port("web");
            s.awaitReady(1);
            assertEquals(1, RuntimeWorker.get(port, "/shutdown").path("generation").asInt());
            s.awaitLine("^supervisor: listener web=tcp://127\\.0\\.0\\.1:" + port
                    + " stopped accepting: a worker of generation 1 shut it down; the next reload gets a fresh socket", STEP);
            assertThrows(ConnectException.class, () -> {
                try (Socket c = new Socket()) {
                    c.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
                }
            }, "the shut-down socket refuses connections");
            JsonNode l = s.status().path("listeners").get(0);
            assertEquals("SHUT_DOWN", l.path("state").asText(), "status: " + l);
            assertEquals("generation 1", l.path("shut_down_by").asText(), "status: " + l);

            SupervisorProcess.Cli r = s.cli("reload", "--control", s.control().toString());
            assertEquals(0, r.exit(), "reload after the shutdown: " + r + s.output().dump());
            Load.Result after = Load.against(port, "/").threads(2).requests(200).deadline(Duration.ofSeconds(60)).run();
            assertEquals(0, after.failed(), "the fresh socket serves: " + after);
            assertEquals(2, RuntimeWorker.get(port, "/").path("generation").asInt());

            s.awaitLine("^supervisor: closed listener web=tcp://127\\.0\\.0\\.1:" + port + ": no generation uses it$", STEP);
            JsonNode now = s.status().path("listeners");
            assertEquals(1, now.size(), "the dead socket went with generation 1: " + now);
            assertEquals("LISTENING", now.get(0).path("state").asText());

            s.signal("TERM");
            assertEquals(0, s.awaitExit(STEP), "graceful stop" + s.output().dump());
        }
    }
}
