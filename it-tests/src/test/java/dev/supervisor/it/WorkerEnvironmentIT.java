package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * What a worker inherits, as the worker itself reports it (fixture {@code worker.py env} prints
 * its fds, listeners and environment as one JSON line): fds 0, 1, 2 and the listeners and nothing
 * else, fd 3 a listening TCP socket on the port the supervisor logged, LISTEN_PID its own pid,
 * LISTEN_FDS / LISTEN_FDNAMES / SUPERVISOR_GENERATION / SUPERVISOR_WORKER, its own process group.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class WorkerEnvironmentIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String REPORT = "^\\[1\\.0 (\\d+)\\] FIXTURE-ENV (\\{.*\\})$";

    @TempDir
    Path tmp;

    /** The supervisor's own JVM is JDK 17 or 25; the worker sees the same either way, and the JVM says nothing on stderr. */
    @ParameterizedTest(name = "supervisor on JDK {0}")
    @ValueSource(ints = {17, 25})
    void oneListener(int jdk) throws IOException {
        Path javaHome = jdk == 17 ? Fixtures.jdk17() : Fixtures.jdk25();
        try (SupervisorProcess s = SupervisorProcess.run(tmp).javaHome(javaHome).listen("web", "127.0.0.1:0").readyNotify()
                .command(Fixtures.worker("env")).start()) {
            int port = s.port("web");
            Output.Match m = s.awaitLine(REPORT);
            JsonNode r = JSON.readTree(m.group(2));
            long pid = Long.parseLong(m.group(1));
            JsonNode env = r.path("env");

            assertEquals(pid, r.path("pid").asLong(), "the [gen.worker pid] prefix names the worker");
            assertEquals(List.of(0, 1, 2, 3), ints(r.path("fds")), "open fds of the worker: " + r.path("fd_targets"));
            assertEquals("/dev/null", r.path("fd_targets").path("0").asText(), "fd 0");
            assertListener(r.path("listeners").path(0), 3, port);
            assertEquals(1, r.path("listeners").size());
            assertEquals(Long.toString(pid), env.path("LISTEN_PID").asText(), "LISTEN_PID is the worker's own pid");
            assertEquals("1", env.path("LISTEN_FDS").asText());
            assertEquals("web", env.path("LISTEN_FDNAMES").asText());
            assertEquals("1", env.path("SUPERVISOR_GENERATION").asText());
            assertEquals("0", env.path("SUPERVISOR_WORKER").asText());
            assertEquals(s.control().toString(), env.path("SUPERVISOR_SOCKET").asText());
            assertTrue(env.path("NOTIFY_SOCKET").asText().startsWith(tmp.toString()), "NOTIFY_SOCKET " + env.path("NOTIFY_SOCKET"));
            assertEquals(pid, r.path("pgid").asLong(), "the worker leads its own process group");
            s.awaitReady(1); // its READY=1 reached the supervisor and was attributed to it

            Path java = Path.of(s.handle().info().command().orElseThrow()).toRealPath();
            assertTrue(java.startsWith(javaHome), "the supervisor runs on " + java + ", not under " + javaHome);
            for (String line : s.output().lines(Output.Stream.STDERR)) {
                assertTrue(line.startsWith("supervisor: ") || line.startsWith("["), "unexpected line on the supervisor's stderr: " + line);
            }

            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(20)));
            s.awaitLine("^supervisor: stopped$");
        }
    }

    /**
     * Two listeners arrive in --listen order; LISTEN_* and NOTIFY_SOCKET that the supervisor
     * itself inherited (as if started by systemd) are replaced, never passed on as such.
     */
    @Test
    void twoListenersInOrderAndInheritedActivationVariablesDoNotLeak() throws IOException {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").listen("admin", "127.0.0.1:0").readyNotify()
                .env("LISTEN_FDS", "5").env("LISTEN_PID", "1").env("LISTEN_FDNAMES", "a:b:c:d:e")
                .env("NOTIFY_SOCKET", "/run/inherited/notify").command(Fixtures.worker("env")).start()) {
            int web = s.port("web");
            int admin = s.port("admin");
            assertNotEquals(web, admin);
            Output.Match m = s.awaitLine(REPORT);
            JsonNode r = JSON.readTree(m.group(2));
            long pid = Long.parseLong(m.group(1));
            JsonNode env = r.path("env");

            assertEquals(List.of(0, 1, 2, 3, 4), ints(r.path("fds")), "open fds of the worker: " + r.path("fd_targets"));
            assertEquals(2, r.path("listeners").size());
            assertListener(r.path("listeners").path(0), 3, web);
            assertListener(r.path("listeners").path(1), 4, admin);
            assertEquals("2", env.path("LISTEN_FDS").asText());
            assertEquals("web:admin", env.path("LISTEN_FDNAMES").asText());
            assertEquals(Long.toString(pid), env.path("LISTEN_PID").asText());
            assertNotEquals("/run/inherited/notify", env.path("NOTIFY_SOCKET").asText());
            assertTrue(env.path("NOTIFY_SOCKET").asText().startsWith(tmp.toString()), "NOTIFY_SOCKET " + env.path("NOTIFY_SOCKET"));
            s.awaitReady(1);

            List<String> log = s.supervisorLog();
            int webLine = indexOf(log, "supervisor: listening web=");
            int adminLine = indexOf(log, "supervisor: listening admin=");
            assertTrue(webLine >= 0 && webLine < adminLine, "listeners logged in --listen order: " + log);

            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(20)));
        }
    }

    private static void assertListener(JsonNode l, int fd, int port) {
        assertEquals(fd, l.path("fd").asInt(), "listener " + l);
        assertEquals("AF_INET", l.path("family").asText(), "listener " + l);
        assertEquals("SOCK_STREAM", l.path("type").asText(), "listener " + l);
        assertTrue(l.path("listening").asBoolean(), "fd " + fd + " is listening: " + l);
        assertEquals("127.0.0.1", l.path("host").asText(), "listener " + l);
        assertEquals(port, l.path("port").asInt(), "fd " + fd + " is bound to the port the supervisor logged: " + l);
        assertFalse(l.path("cloexec").asBoolean(), "fd " + fd + " has FD_CLOEXEC clear: " + l);
    }

    private static List<Integer> ints(JsonNode array) {
        List<Integer> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asInt()));
        return out;
    }

    private static int indexOf(List<String> lines, String prefix) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith(prefix)) {
                return i;
            }
        }
        return -1;
    }
}
