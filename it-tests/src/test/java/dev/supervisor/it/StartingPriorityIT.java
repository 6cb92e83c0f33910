package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * --starting-priority: every thread of every process of a reload's generation runs at the low
 * priority while it starts, and at normal once it is ready; generation 1 is normal from the
 * start. The fixture {@code priority.py} has two threads and a child process with a thread of
 * its own, and holds its READY=1 until the test writes to a FIFO. Policy and nice of each
 * thread are read from /proc/PID/task/TID/stat.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class StartingPriorityIT {
    private static final int SCHED_OTHER = 0;

    @TempDir
    Path tmp;

    /** {@code option} empty = the default. */
    @ParameterizedTest(name = "--starting-priority ''{0}''")
    @CsvSource({"'', 0, 19", "idle, 5, 0", "batch, 3, 0", "nice, 0, 19", "normal, 0, 0"})
    void lowWhileStartingNormalOnceReady(String option, int lowPolicy, int lowNice) throws Exception {
        Path fifo = fifo();
        // The bound on the low priority (--starting-priority-for) must not end it before the checks below.
        SupervisorProcess.Builder b = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").readyNotify()
                .option("--starting-priority-for", "100s", "--ready-timeout", "240s");
        if (!option.isEmpty()) {
            b.option("--starting-priority", option);
        }
        try (SupervisorProcess s = b.command(Fixtures.python(), "-u", Fixtures.script("priority.py").toString(), fifo.toString()).start()) {
            s.awaitReady(1);
            for (long pid : s.workerPids(1)) {
                assertThreads(pid, SCHED_OTHER, 0, "generation 1, ready");
            }

            s.signal("HUP");
            Output.Match started = s.awaitLine("^\\[2\\.0 (\\d+)\\] PRIO-STARTED (\\d+) (\\d+)$", Duration.ofSeconds(60));
            long worker = Long.parseLong(started.group(2));
            long child = Long.parseLong(started.group(3));
            assertTrue(assertThreads(worker, lowPolicy, lowNice, "generation 2 worker, starting") >= 3, "the worker's threads");
            assertTrue(assertThreads(child, lowPolicy, lowNice, "generation 2 worker's child, starting") >= 2, "the child's threads");

            Files.writeString(fifo, "go\n");
            s.awaitLine("^supervisor: generation 2 ready in .*draining generation 1$", Duration.ofSeconds(60));
            assertThreads(worker, SCHED_OTHER, 0, "generation 2 worker, ready");
            assertThreads(child, SCHED_OTHER, 0, "generation 2 worker's child, ready");

            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(30)));
        }
    }

    /**
     * A generation still starting after --starting-priority-for is raised to normal then, ready
     * or not: a saturated machine gives low-priority threads no CPU, and the reload would starve.
     */
    @Test
    void raisedToNormalWhenStartingLongerThanTheBound() throws Exception {
        Path fifo = fifo();
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").readyNotify()
                .option("--starting-priority-for", "1s").command(Fixtures.python(), "-u", Fixtures.script("priority.py").toString(),
                        fifo.toString()).start()) {
            s.awaitReady(1);
            s.signal("HUP");
            Output.Match started = s.awaitLine("^\\[2\\.0 (\\d+)\\] PRIO-STARTED (\\d+) (\\d+)$", Duration.ofSeconds(60));
            s.awaitLine("^supervisor: generation 2 not ready after 1s at low priority; raised to normal$", Duration.ofSeconds(60));
            assertThreads(Long.parseLong(started.group(2)), SCHED_OTHER, 0, "generation 2 worker, still starting after the bound");
            assertThreads(Long.parseLong(started.group(3)), SCHED_OTHER, 0, "generation 2 worker's child, still starting after the bound");
            Files.writeString(fifo, "go\n");
            s.awaitLine("^supervisor: generation 2 ready in .*draining generation 1$", Duration.ofSeconds(60));
            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(30)));
        }
    }

    /** A FIFO the fixture's generation 2 waits on before its READY=1. */
    private Path fifo() throws Exception {
        Path fifo = tmp.resolve("release");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertEquals(0, mkfifo.waitFor(), "mkfifo");
        return fifo;
    }

    /** Asserts policy and nice of every thread of {@code pid}; returns how many threads it has. */
    private static int assertThreads(long pid, int policy, int nice, String what) throws IOException {
        List<String> seen = new ArrayList<>();
        int threads = 0;
        try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                String stat;
                try {
                    stat = Files.readString(task.resolve("stat"));
                } catch (NoSuchFileException e) {
                    continue; // a thread that ended
                }
                // Fields after the command name in parentheses (which may hold spaces): 3 = state ... 19 = nice ... 41 = policy.
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
                int threadNice = Integer.parseInt(f[19 - 3]);
                int threadPolicy = Integer.parseInt(f[41 - 3]);
                seen.add(task.getFileName() + ": policy " + threadPolicy + ", nice " + threadNice);
                threads++;
            }
        }
        for (String t : seen) {
            assertEquals("policy " + policy + ", nice " + nice, t.substring(t.indexOf(' ') + 1), what + " (pid " + pid + "), threads " + seen);
        }
        return threads;
    }
}
