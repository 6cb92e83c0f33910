package dev.supervisor.it.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.supervisor.it.Http;
import dev.supervisor.it.SupervisorProcess;

/**
 * kill -9 of the supervisor leaves no worker holding the port: each worker has a parent-death
 * KILL (setpriv --pdeathsig), also after --user changed its uid (which clears the parent-death
 * signal when set before the change). Within a second the port is free and a new supervisor binds it.
 */
class NoOrphansIT {
    /** What "within a second" allows: the kernel delivers the signal at once; exit and close take the rest. */
    private static final Duration RELEASED = Duration.ofSeconds(1);

    @TempDir
    Path tmp;
    @TempDir
    Path tmp2;
    @TempDir
    Path fixtures;

    @Test
    void workersDieWithAKilledSupervisor() {
        killAndRebind(List.of());
    }

    @Test
    void workersOfAnotherUserDieWithAKilledSupervisor() {
        Sec.requireRoot("--user needs root");
        killAndRebind(List.of("--user", "nobody"));
    }

    private void killAndRebind(List<String> options) {
        Path dir = Sec.publicFixtures(fixtures);
        int port;
        List<Long> workers;
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").readyNotify().workers(2)
                .option(options.toArray(new String[0])).command(List.of(Sec.python(), "-u", dir.resolve("user_worker.py").toString())).start()) {
            s.awaitReady(1);
            port = s.port("web");
            workers = s.workerPids(1);
            assertEquals(2, workers.size());
            assertEquals(200, get(port));
            s.signal("KILL");
            assertEquals(137, s.awaitExit(Duration.ofSeconds(10)));
            Sec.awaitTrue("workers " + workers + " gone and 127.0.0.1:" + port + " free after kill -9 of the supervisor", RELEASED,
                    () -> workers.stream().allMatch(pid -> gone(pid)) && Sec.canBind(port));
        }
        try (SupervisorProcess again = SupervisorProcess.run(tmp2).listen("web", "127.0.0.1:" + port).readyNotify()
                .option(options.toArray(new String[0])).command(List.of(Sec.python(), "-u", dir.resolve("user_worker.py").toString())).start()) {
            again.awaitReady(1);
            assertEquals(200, get(port));
            assertFalse(workers.contains(again.workerPids(1).get(0)));
        }
    }

    /** Exited: no such process, or a zombie (which holds no fds) waiting for its new parent. */
    private static boolean gone(long pid) {
        String state = Sec.procStatus(pid, "State");
        return state == null || state.startsWith("Z");
    }

    private static int get(int port) {
        try {
            return Http.get(port, "/").status();
        } catch (java.io.IOException e) {
            throw new AssertionError("GET 127.0.0.1:" + port + " failed: " + e, e);
        }
    }
}
