package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real gunicorn (Debian's), started with no --bind: it takes the socket from LISTEN_FDS and
 * LISTEN_PID (gunicorn/systemd.py), says READY=1 on NOTIFY_SOCKET from its arbiter, and its forked
 * workers answer requests on the supervisor's socket.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class GunicornIT {
    private static final Pattern BODY = Pattern.compile("^hello from gunicorn worker (\\d+) path /\\S*\\n$");

    @TempDir
    Path tmp;

    @Test
    void servesAWsgiAppThroughTheSupervisorsSocket() throws Exception {
        Path gunicorn = Fixtures.gunicorn();
        Path app = Fixtures.script("wsgi_app.py").getParent();
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").readyNotify()
                .command(gunicorn.toString(), "--chdir", app.toString(), "--workers", "2", "wsgi_app:app").start()) {
            int port = s.port("web");
            s.awaitLine("Listening at: http://127\\.0\\.0\\.1:" + port + " ");
            s.awaitReady(1); // READY=1 from gunicorn's arbiter

            Load.Result r = Load.against(port, "/hello").threads(4).requests(200).deadline(Duration.ofSeconds(30)).countBy(resp -> {
                Matcher m = BODY.matcher(resp.body());
                return m.matches() ? m.group(1) : "unexpected body: " + resp.body();
            }).run();
            assertEquals(0, r.failed(), r.toString());
            assertEquals(200, r.answered(), r.toString());
            assertFalse(r.byKey().isEmpty(), r.toString());
            assertTrue(r.byKey().keySet().stream().allMatch(k -> k.matches("\\d+")), "every answer is from the WSGI app: " + r);

            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(30)));
            s.awaitLine("^supervisor: worker 1\\.0 \\(pid \\d+\\) exited with code 0 \\(drained\\)$");
        }
    }
}
