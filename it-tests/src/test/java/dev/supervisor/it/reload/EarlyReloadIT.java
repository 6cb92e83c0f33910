package dev.supervisor.it.reload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import dev.supervisor.it.SupervisorProcess;

/**
 * Reloads asked for while generation 1 is still starting: one starts generation 2, the next is
 * merged into one more after it. Generation 1 gets ready in between (it started first and warms up
 * for less time); that answers neither request: each waits for its own generation, and the
 * supervisor goes on running. (It used to answer the first with "generation 1" and start the
 * merged one beside generation 2, which broke its invariant and made it exit 70.)
 */
class EarlyReloadIT {
    static final Duration STEP = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    @Test
    void reloadsDuringTheFirstStartWaitForTheirOwnGenerations() throws Exception {
        Path config = App.writeConfig(tmp.resolve("supervisor.json"), settings(800));
        Path control = Fixtures.privateDir(tmp).resolve("ctl.sock");
        try (SupervisorProcess s = SupervisorProcess.run(tmp).rawArgs("run", "-c", config.toString(), "--control", control.toString()).start()) {
            int port = s.port("http");
            s.awaitLine("^supervisor: started worker 1\\.0 ", STEP);
            App.writeConfig(config, settings(2000)); // generations 2 and 3 get ready well after generation 1
            try (ControlConnection first = ControlConnection.open(control); ControlConnection second = ControlConnection.open(control)) {
                first.send("{\"v\":1,\"cmd\":\"reload\"}\n");
                s.awaitLine("^supervisor: started worker 2\\.0 ", STEP);
                second.send("{\"v\":1,\"cmd\":\"reload\"}\n");
                s.awaitLine("^supervisor: reload requested while generation 2 starts: merged into one more reload after it$", STEP);
                assertTrue(s.supervisorLog().stream().noneMatch(l -> l.startsWith("supervisor: generation 1 ready")),
                        "both requests came while generation 1 started" + s.output().dump());

                s.awaitReady(1);
                assertEquals(1, FreshConnectionReloadIT.generation(Http.get(port, "/").body()), "generation 1 serves meanwhile");

                JsonNode a = first.readAnswer(STEP);
                assertEquals(true, a.path("ok").asBoolean(), "first: " + a);
                assertEquals(2, a.path("generation").asInt(), "the first request is answered by its own generation, 2: " + a);
                JsonNode b = second.readAnswer(STEP);
                assertEquals(true, b.path("ok").asBoolean(), "second: " + b);
                assertEquals(3, b.path("generation").asInt(), "the merged request is answered by generation 3: " + b);
            }
            // The answer can come before the log line is read from the supervisor's stderr: wait for it.
            s.awaitLine("^supervisor: generation 2 ready in .*; draining generation 1$", STEP);
            s.awaitLine("^supervisor: generation 3 ready in .*; draining generation 2$", STEP);
            List<String> log = s.supervisorLog();
            assertTrue(log.stream().noneMatch(l -> l.contains("internal error") || l.contains("invariant")), "log: " + log);
            assertTrue(s.handle().isAlive(), "the supervisor runs");
            assertEquals(3, FreshConnectionReloadIT.generation(Http.get(port, "/").body()));
            assertEquals(3, s.status().path("serving").asInt());

            s.signal("TERM");
            assertEquals(0, s.awaitExit(STEP), "graceful stop" + s.output().dump());
        }
    }

    private static Map<String, Object> settings(int warmupMs) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("listen", List.of("http=127.0.0.1:0"));
        m.put("command", App.command("serve", "--warmup", Integer.toString(warmupMs)));
        m.put("ready", "notify");
        return m;
    }
}
