package dev.supervisor.it.reload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.it.Http;
import dev.supervisor.it.SupervisorProcess;
import dev.supervisor.it.SupervisorProcess.Cli;

/**
 * {@code supervisor status --json} as a script reads it, and the control socket's answer to bad
 * input: every malformed line gets {"v":1,"ok":false,"error":...}, the connection stays usable
 * (except after an over-long line, which cannot be resynchronised: answered, then closed), and the
 * supervisor goes on serving requests, reloads and HTTP.
 */
class ControlSocketIT {
    static final Duration STEP = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    @Test
    void statusJsonDescribesGenerationsWorkersAndListeners() throws Exception {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("http", "127.0.0.1:0").workers(2).readyNotify()
                .command(App.command("serve")).start()) {
            int port = s.port("http");
            s.awaitReady(1);
            Cli reload = s.cli("reload", "--control", s.control().toString());
            assertEquals(0, reload.exit(), reload.toString());

            Cli r = s.cli("status", "--json", "--control", s.control().toString());
            assertEquals(0, r.exit(), r.toString());
            JsonNode st = App.JSON.readTree(r.stdout());
            assertEquals(s.pid(), st.path("pid").asLong(), "status: " + st);
            assertEquals(2, st.path("serving").asInt());
            assertEquals(false, st.path("reloading").asBoolean());
            assertEquals(false, st.path("stopping").asBoolean());
            assertTrue(st.path("uptime_ms").asLong() > 0);

            assertEquals(1, st.path("listeners").size(), "listeners: " + st);
            JsonNode l = st.path("listeners").get(0);
            assertEquals("http", l.path("name").asText());
            assertEquals("tcp://127.0.0.1:" + port, l.path("bound").asText());

            // Generation 1 drained at the reload; it may still be listed as DRAINING for a moment.
            JsonNode g = null;
            for (JsonNode x : st.path("generations")) {
                if (x.path("generation").asInt() == 2) {
                    g = x;
                } else {
                    assertEquals(1, x.path("generation").asInt(), "status: " + st);
                    assertEquals("DRAINING", x.path("state").asText(), "status: " + st);
                }
            }
            assertTrue(g != null, "generation 2 is listed: " + st);
            assertEquals("READY", g.path("state").asText());
            assertTrue(g.path("command").asText().endsWith("app.py serve"), "command: " + g);
            assertTrue(g.path("age_ms").asLong() >= 0 && g.path("overhead_us").asLong() >= 0, "generation: " + g);
            assertEquals(2, g.path("workers").size(), "workers: " + g);
            List<Long> pids = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                JsonNode w = g.path("workers").get(i);
                long pid = w.path("pid").asLong();
                assertTrue(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "worker pid " + pid + " runs: " + w);
                assertEquals("READY", w.path("state").asText(), "worker: " + w);
                assertTrue(w.path("age_ms").isIntegralNumber() && w.path("age_ms").asLong() >= 0, "age: " + w);
                assertEquals("serving generation 2", w.path("status").asText(), "the worker's last STATUS=: " + w);
                pids.add(pid);
            }
            assertEquals(List.of(0, 1), List.of(g.path("workers").get(0).path("worker").asInt(), g.path("workers").get(1).path("worker").asInt()));
            // The pids status gives are the ones that answer HTTP.
            for (int i = 0; i < 20 && pids.size() > 0; i++) {
                JsonNode b = App.JSON.readTree(Http.get(port, "/").body());
                assertTrue(pids.contains(b.path("pid").asLong()), "answered by a worker status did not list: " + b + " vs " + pids);
            }

            Cli text = s.cli("status", "--control", s.control().toString());
            assertEquals(0, text.exit(), text.toString());
            assertTrue(text.stdout().contains("serving generation 2") && text.stdout().contains("pid " + pids.get(0)), text.stdout());
        }
    }

    @Test
    void malformedControlLinesGetAnErrorAndTheSupervisorKeepsServing() throws Exception {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("http", "127.0.0.1:0").readyNotify().command(App.command("serve")).start()) {
            int port = s.port("http");
            s.awaitReady(1);
            try (ControlConnection c = ControlConnection.open(s.control())) {
                expectError(c, "garbage\n", "malformed request");
                expectError(c, "{\"v\":1,\"cmd\":\"status\"\n", "malformed request");
                expectError(c, "[1,2,3]\n", "malformed request: expected a JSON object");
                expectError(c, "\n", "malformed request");
                expectError(c, "{\"cmd\":\"status\"}\n", "request has no protocol version \"v\"");
                expectError(c, "{\"v\":\"1\",\"cmd\":\"status\"}\n", "request has no protocol version \"v\"");
                expectError(c, "{\"v\":2,\"cmd\":\"status\"}\n", "protocol version 2 is not supported (this supervisor speaks 1)");
                expectError(c, "{\"v\":1,\"cmd\":\"frobnicate\"}\n", "unknown command 'frobnicate'");
                expectError(c, "{\"v\":1}\n", "request has no \"cmd\"");
                expectError(c, "{\"v\":1,\"cmd\":42}\n", "request has no \"cmd\"");
                // The same connection still works.
                JsonNode ok = c.call("status", STEP);
                assertEquals(true, ok.path("ok").asBoolean(), "status after ten bad lines: " + ok);
                assertEquals(1, ok.path("status").path("serving").asInt());
            }

            // A line over 64 KiB: answered with an error, then the connection is closed (there is no
            // telling where the next request would start).
            try (ControlConnection c = ControlConnection.open(s.control())) {
                c.send("{\"v\":1,\"cmd\":\"status\",\"pad\":\"" + "x".repeat(70 * 1024) + "\"}\n");
                JsonNode a = c.readAnswer(STEP);
                assertEquals(1, a.path("v").asInt(), "answer: " + a);
                assertEquals(false, a.path("ok").asBoolean(), "answer: " + a);
                assertEquals("request longer than 65536 bytes", a.path("error").asText());
                assertTrue(c.closedBySupervisor(STEP), "the connection is closed after an over-long line");
            }

            // The supervisor keeps serving: a new connection, the CLI, a reload and HTTP all work.
            try (ControlConnection c = ControlConnection.open(s.control())) {
                assertEquals(true, c.call("status", STEP).path("ok").asBoolean());
            }
            Cli r = s.cli("reload", "--control", s.control().toString());
            assertEquals(0, r.exit(), "a reload after the bad lines: " + r + s.output().dump());
            assertEquals("generation 2 serves", r.stdout().strip());
            assertEquals(2, FreshConnectionReloadIT.generation(Http.get(port, "/").body()));
            assertTrue(s.handle().isAlive());
            assertTrue(s.output().lines().stream().noneMatch(l -> l.text().contains("Exception") || l.text().contains("\tat ")),
                    "no stack trace in the supervisor's output" + s.output().dump());

            s.signal("TERM");
            assertEquals(0, s.awaitExit(STEP), "graceful stop" + s.output().dump());
        }
    }

    private static void expectError(ControlConnection c, String line, String errorStart) throws Exception {
        c.send(line);
        JsonNode a = c.readAnswer(STEP);
        assertEquals(1, a.path("v").asInt(), "answer to " + line.strip() + ": " + a);
        assertEquals(false, a.path("ok").asBoolean(), "answer to " + line.strip() + ": " + a);
        assertTrue(a.path("error").asText().startsWith(errorStart), "answer to '" + line.strip() + "': " + a + ", expected an error starting "
                + errorStart);
    }
}
