package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker whose READY=1 is sent by a helper that has exited (and was nobody's child of the worker
 * by then) before the supervisor reads it: the worker's own NOTIFY_SOCKET says whose it is, so
 * generation 1 comes up and a reload succeeds.
 */
class NotifyHelperIT {
    static final Duration STEP = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    @Test
    void readyFromAnExitedHelperCountsForItsWorker() throws Exception {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").readyNotify()
                .option("--ready-timeout", "30s").command(RuntimeWorker.command("helper-ready")).start()) {
            int port = s.port("web");
            s.awaitReady(1);
            assertEquals(1, RuntimeWorker.get(port, "/").path("generation").asInt());

            SupervisorProcess.Cli r = s.cli("reload", "--control", s.control().toString());
            assertEquals(0, r.exit(), "reload over a worker whose helper said READY=1: " + r + s.output().dump());
            assertEquals(2, RuntimeWorker.get(port, "/").path("generation").asInt());

            s.signal("TERM");
            assertEquals(0, s.awaitExit(STEP), "graceful stop" + s.output().dump());
        }
    }
}
