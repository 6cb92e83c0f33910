package dev.supervisor.it.reload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.it.Fixtures;
import dev.supervisor.it.Http;
import dev.supervisor.it.Output;
import dev.supervisor.it.SupervisorProcess;
import dev.supervisor.it.SupervisorProcess.Cli;

/**
 * The config file's listeners change on reload: a listener added to the file is bound and passed
 * to the new generation (LISTEN_FDS=2, and it serves on the new port); a listener removed from it
 * stays open while the old generation still runs (it has a request in hand) and is closed once
 * that generation has exited: the log says so, and a connect to its port is refused.
 */
class ListenerChangeIT {
    static final Duration STEP = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    @Test
    void anAddedListenerServesAfterReloadAndARemovedOneClosesWhenTheOldGenerationIsGone() throws Exception {
        Path config = App.writeConfig(tmp.resolve("supervisor.json"), settings("http=127.0.0.1:0", "admin=127.0.0.1:0"));
        Path control = Fixtures.privateDir(tmp).resolve("ctl.sock");
        try (SupervisorProcess s = SupervisorProcess.run(tmp).rawArgs("run", "-c", config.toString(), "--control", control.toString()).start()) {
            int http = s.port("http");
            int admin = s.port("admin");
            s.awaitReady(1);
            long oldPid = Long.parseLong(s.awaitLine("^supervisor: started worker 1\\.0 \\(pid (\\d+)\\)$", STEP).group(1));
            JsonNode a = body(Http.get(admin, "/"));
            assertEquals(1, a.path("generation").asInt());
            assertEquals("admin", a.path("listener").asText());
            assertEquals(2, a.path("listen_fds").asInt());

            // Generation 1 holds a request on admin, so it cannot exit before the test says.
            int mark = s.output().size();
            CompletableFuture<Http.Response> held = Http.getAsync(admin, "/hold");
            s.awaitLine(mark, "^\\[1\\.0 " + oldPid + "\\] holding request$", STEP);

            App.writeConfig(config, settings("http=127.0.0.1:0", "api=127.0.0.1:0"));
            Cli r = s.cli("reload", "--control", control.toString());
            assertEquals(0, r.exit(), "reload with a listener added and one removed: " + r + s.output().dump());
            assertEquals("generation 2 serves", r.stdout().strip());

            JsonNode st = s.status();
            Map<String, String> listeners = listeners(st);
            assertEquals(List.of("http", "admin", "api"), List.copyOf(listeners.keySet()),
                    "admin stays open while generation 1 (DRAINING) still runs: " + st);
            assertEquals("DRAINING", st.path("generations").get(0).path("state").asText(), "status: " + st);
            int api = Integer.parseInt(listeners.get("api").replaceAll(".*:", ""));

            JsonNode n = body(Http.get(api, "/"));
            assertEquals(2, n.path("generation").asInt(), "the new listener is served by the new generation: " + n);
            assertEquals("api", n.path("listener").asText());
            assertEquals(2, n.path("listen_fds").asInt(), "the new worker got http and api: " + n);
            assertEquals(2, body(Http.get(http, "/")).path("generation").asInt(), "http is served by generation 2");
            assertTrue(s.supervisorLog().stream().noneMatch(l -> l.startsWith("supervisor: closed listener")),
                    "no listener closed while generation 1 runs: " + s.supervisorLog());

            // Let generation 1 finish its request: it answers, then exits, and only then is admin closed.
            SupervisorProcess.signal(oldPid, "USR1");
            JsonNode done = body(held.get(STEP.toMillis(), TimeUnit.MILLISECONDS));
            assertEquals(1, done.path("generation").asInt(), "the request in hand across the reload was answered: " + done);
            assertEquals("admin", done.path("listener").asText());
            Output.Match exited = s.awaitLine(mark, "^supervisor: worker 1\\.0 \\(pid " + oldPid + "\\) exited with code 0 \\(drained\\)$", STEP);
            Output.Match closed = s.awaitLine(mark, "^supervisor: closed listener admin=tcp://127\\.0\\.0\\.1:" + admin + ": no generation uses it$", STEP);
            assertTrue(closed.index() > exited.index(), "admin was closed after generation 1 had gone" + s.output().dump());
            s.awaitLine(closed.index(), "^supervisor: generation 1 exited$", STEP);

            assertThrows(ConnectException.class, () -> {
                try (Socket c = new Socket()) {
                    c.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), admin), 5000);
                }
            }, "connect to the removed listener's port " + admin + " is refused");
            assertEquals(List.of("http", "api"), List.copyOf(listeners(s.status()).keySet()));
            assertEquals(2, body(Http.get(api, "/")).path("generation").asInt());

            s.signal("TERM");
            assertEquals(0, s.awaitExit(STEP), "graceful stop" + s.output().dump());
        }
    }

    private static Map<String, Object> settings(String... listen) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("listen", List.of(listen));
        m.put("command", App.command("serve"));
        m.put("ready", "notify");
        return m;
    }

    /** Listener name -> bound address, in the order status lists them. */
    private static Map<String, String> listeners(JsonNode status) {
        Map<String, String> m = new LinkedHashMap<>();
        for (JsonNode l : status.path("listeners")) {
            m.put(l.path("name").asText(), l.path("bound").asText());
        }
        return m;
    }

    private static JsonNode body(Http.Response r) throws Exception {
        assertEquals(200, r.status(), "answer: " + r);
        return App.JSON.readTree(r.body());
    }
}
