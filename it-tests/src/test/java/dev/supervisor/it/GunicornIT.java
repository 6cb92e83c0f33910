package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real gunicorn (Debian's), started with no --bind: it takes the socket from LISTEN_FDS and
 * LISTEN_PID (gunicorn/systemd.py), says READY=1 on NOTIFY_SOCKET from its arbiter, and its forked
 * workers answer requests on the supervisor's socket. With the shipped example config
 * (examples/gunicorn.conf.py) READY=1 comes only when every worker has loaded the app.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class GunicornIT {
    private static final Pattern BODY = Pattern.compile("^hello from gunicorn worker (\\d+) path /\\S*\\n$");

    @TempDir
    Path tmp;

    @Test
    void servesAWsgiAppThroughTheSupervisorsSocket() throws Exception {
        Path gunicorn = Fixtures.gunicorn();
        Path app = Fixtures.script("wsgi_app.py").getParent();
        // gunicorn's own READY=1 comes before its workers boot, so the TERM below can meet a worker
        // that has not installed its handlers yet, or the arbiter between two spawns: that worker
        // misses the TERM and the arbiter KILLs it after its graceful timeout (30 s by default).
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").readyNotify()
                .command(gunicorn.toString(), "--chdir", app.toString(), "--workers", "2", "--graceful-timeout", "5", "wsgi_app:app").start()) {
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

    /**
     * The app takes 1.5 s to load in each worker and notes each load in a file. With the example
     * config, the generation is ready (and the old one drains) only once both workers of the new
     * gunicorn have loaded it: when `reload` answers, the file already names both, children of the
     * new arbiter. (gunicorn's own READY=1 comes before it forks any worker.) The config's quick
     * exit keeps what an exit promises: the drained workers, whose app holds an idle thread pool,
     * run their atexit handlers, and the old arbiter exits 0.
     */
    @Test
    void withTheExampleConfigAReloadWaitsUntilEveryNewWorkerLoadedTheApp() throws Exception {
        Path gunicorn = Fixtures.gunicorn();
        Path app = Fixtures.script("wsgi_app.py").getParent();
        Path config = Fixtures.supervisorHome().resolve("share/doc/supervisor/examples/gunicorn.conf.py");
        Path loaded = tmp.resolve("loaded.txt");
        Path exited = tmp.resolve("exited.txt");
        Path first = tmp.resolve("first.txt");
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").readyNotify()
                .env("WSGI_APP_LOADED", loaded.toString()).env("WSGI_APP_LOAD_SECONDS", "1.5")
                .env("WSGI_APP_EXITED", exited.toString()).env("WSGI_APP_POOL", "1").env("WSGI_APP_FIRST", first.toString())
                .command(gunicorn.toString(), "-c", config.toString(), "--chdir", app.toString(), "--workers", "2",
                        "--worker-class", "gthread", "--threads", "4", "wsgi_app:app").start()) {
            int port = s.port("web");
            s.awaitReady(1);
            long arbiter1 = s.workerPids(1).get(0);
            assertEquals(Set.of(arbiter1), parents(loaded, 2), "ready only after both workers of generation 1 loaded the app");

            Load.Running load = Load.against(port, "/hello").threads(2).requests(Integer.MAX_VALUE).deadline(Duration.ofSeconds(60)).start();
            SupervisorProcess.Cli r = s.cli("reload", "--control", s.control().toString());
            assertEquals(0, r.exit(), r.toString());
            long arbiter2 = s.workerPids(2).get(0);
            List<String> lines = Files.readAllLines(loaded);
            assertEquals(Set.of(arbiter1, arbiter2), parents(loaded, 4),
                    "when reload answered, both workers of the new arbiter had loaded the app: " + lines);
            s.awaitLine("^supervisor: generation 1 exited$", Duration.ofSeconds(30));
            s.awaitLine("^supervisor: worker 1\\.0 \\(pid " + arbiter1 + "\\) exited with code 0 \\(drained\\)$");
            Set<String> workers1 = lines.stream().filter(l -> l.endsWith(" " + arbiter1)).collect(Collectors.toSet());
            assertEquals(2, workers1.size(), lines.toString());
            assertTrue(Files.readAllLines(exited).containsAll(workers1), "atexit ran in both drained workers: " + Files.readAllLines(exited));
            Load.Result result = load.stop();
            assertEquals(0, result.failed(), "requests across the reload: " + result);
            assertTrue(result.answered() > 0, result.toString());

            Matcher m = BODY.matcher(Http.get(port, "/after").body());
            assertTrue(m.matches());
            assertTrue(lines.contains(m.group(1) + " " + arbiter2), "a worker of the new arbiter answers: " + m.group(1) + " " + lines);
            List<String> firsts = Files.readAllLines(first);
            assertTrue(firsts.stream().anyMatch(l -> l.startsWith(m.group(1) + " ")), "its first request is noted: " + firsts);
            for (String l : firsts) {
                String[] f = l.split(" ");
                assertTrue(Integer.parseInt(f[1]) >= 1 + 4 + 1 && Integer.parseInt(f[2]) > 0,
                        "before its first request each worker ran its 4 pool threads (besides the main thread and the app's own) "
                                + "and had frozen what it loaded: " + firsts);
            }

            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(30)));
        }
    }

    /** The parent pids of the first {@code count} loads noted (all of them: exactly that many). */
    private static Set<Long> parents(Path loaded, int count) throws java.io.IOException {
        List<String> lines = Files.readAllLines(loaded);
        assertEquals(count, lines.size(), "app loads noted: " + lines);
        return lines.stream().map(l -> Long.parseLong(l.split(" ")[1])).collect(Collectors.toSet());
    }
}
