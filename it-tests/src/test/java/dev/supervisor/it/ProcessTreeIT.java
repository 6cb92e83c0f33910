package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The supervisor owns every process a worker starts (DESIGN.md, "Which processes belong to a
 * generation"), takes a reload from SIGHUP even when its parent ignored HUP, leaves the JVM's own
 * signals alone, and survives a reload that cannot get file descriptors.
 */
class ProcessTreeIT {
    static final int RELOADS = 10;
    static final Duration STEP = Duration.ofSeconds(60);

    @TempDir
    Path tmp;

    /**
     * {@code sh -c 'setsid SERVER & SERVER; echo done'}: a wrapper that does not exec, with one
     * server in its process group and one that left it. Ten reloads under load lose no request,
     * every process of each old generation is gone once it has exited, and none is left after stop.
     */
    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES) // ten reloads under load on two loaded cores
    void wrappersThatDoNotExecAndSetsidServersDrainWithTheirGeneration() throws Exception {
        String server = String.join(" ", Fixtures.worker("http").stream().map(a -> "'" + a + "'").toList());
        Set<Long> everyPid = new LinkedHashSet<>();
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("http", "127.0.0.1:0").readyNotify()
                .option("--drain-timeout", "10s").command("/bin/sh", "-c", "setsid " + server + " & " + server + "; echo done").start()) {
            int port = s.port("http");
            s.awaitReady(1);
            List<Long> tree = awaitTree(s.workerPids(1).get(0), 3);
            everyPid.addAll(tree);
            Load.Running load = Load.against(port, "/").threads(2).requests(2_000_000).deadline(Duration.ofSeconds(240)).start();
            try {
                for (int g = 2; g <= RELOADS + 1; g++) {
                    // SIGHUP rather than the CLI: a CLI JVM starting on a loaded machine is no part of what is shown here.
                    s.signal("HUP");
                    s.awaitLine("^supervisor: generation " + g + " ready in \\d+ ms", STEP);
                    s.awaitLine("^supervisor: generation " + (g - 1) + " exited$", STEP);
                    List<Long> old = tree;
                    assertTrue(old.stream().allMatch(ProcessTreeIT::gone), "generation " + (g - 1) + " has exited, yet of its tree "
                            + old + " these live: " + old.stream().filter(p -> !gone(p)).toList() + s.output().dump());
                    tree = awaitTree(s.workerPids(g).get(0), 3);
                    everyPid.addAll(tree);
                }
            } finally {
                Load.Result result = load.stop();
                assertEquals(0, result.failed(), "requests failed across " + RELOADS + " reloads: " + result);
                assertTrue(result.answered() > 0, result.toString());
            }
            s.signal("TERM");
            assertEquals(0, s.awaitExit(STEP));
            assertTrue(everyPid.stream().allMatch(ProcessTreeIT::gone), "alive after stop: "
                    + everyPid.stream().filter(p -> !gone(p)).toList());
        } finally {
            everyPid.forEach(p -> ProcessHandle.of(p).ifPresent(ProcessHandle::destroyForcibly));
        }
    }

    /**
     * A process that escaped its worker: a subshell started it and exited at once, setsid took it
     * out of the group and env -i dropped the worker variables, so it re-parents to the supervisor
     * belonging to no worker. Stop ends it too: nothing the supervisor started outlives it.
     */
    @Test
    void aProcessThatEscapedItsWorkerDoesNotOutliveStop() throws Exception {
        // It says its pid on the worker's stdout, which it inherited: the supervisor prints the line.
        String escape = "(setsid env -i /bin/sh -c 'echo ESCAPED $$; exec sleep 300' &)";
        String server = String.join(" ", Fixtures.worker("http").stream().map(a -> "'" + a + "'").toList());
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("http", "127.0.0.1:0").readyNotify()
                .command("/bin/sh", "-c", escape + "; exec " + server).start()) {
            s.awaitReady(1);
            long escaped = Long.parseLong(s.awaitLine("^\\[1\\.0 \\d+\\] ESCAPED (\\d+)$", STEP).group(1));
            assertTrue(!gone(escaped), "the escaped process runs");
            s.signal("TERM");
            assertEquals(0, s.awaitExit(STEP));
            awaitGone(escaped);
        }
    }

    /** Started the way nohup starts it (HUP ignored), the supervisor still reloads on SIGHUP. */
    @Test
    void hupIgnoredByTheParentStillReloads() {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).launcher("/bin/sh", "-c", "trap '' HUP; exec \"$@\"", "sh")
                .listen("http", "127.0.0.1:0").readyNotify().command(Fixtures.worker("http")).start()) {
            s.awaitReady(1);
            s.signal("HUP");
            s.awaitReady(2);
        }
    }

    /**
     * A JFR recording samples the supervisor's threads, which HotSpot suspends with a signal (USR2,
     * unless the launcher moves it, as ours does to free USR2 for upgrades): the supervisor lives
     * through it, reloads and stops cleanly (it once set USR2 to its default action, and died at
     * the first sample).
     */
    @Test
    void aProfilerSamplingTheSupervisorDoesNotKillIt() {
        String jfr = "-XX:StartFlightRecording=filename=" + tmp.resolve("supervisor.jfr") + ",settings=profile";
        try (SupervisorProcess s = SupervisorProcess.run(tmp).env("SUPERVISOR_JAVA_OPTS", jfr).listen("http", "127.0.0.1:0").readyNotify()
                .command(Fixtures.worker("http")).start()) {
            s.awaitReady(1);
            s.signal("HUP");
            s.awaitReady(2);
            assertEquals(2, s.status().get("serving").asInt(), "status answers: " + s.output().dump());
            s.signal("TERM");
            assertEquals(0, s.awaitExit(STEP), s.output().dump());
        }
    }

    /**
     * With its fd limit lowered to just above what it holds, a reload fails naming EMFILE and the
     * supervisor serves on; with the limit back, the next reload works.
     */
    @Test
    void aReloadWithoutFileDescriptorsFailsAndTheSupervisorServesOn() throws Exception {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("http", "127.0.0.1:0").readyNotify()
                .command(Fixtures.worker("http")).start()) {
            int port = s.port("http");
            s.awaitReady(1);
            long pid = s.pid();
            String soft = softNofile(pid);
            long open;
            try (var fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
                open = fds.count();
            }
            // One for the control connection, one for the listener's copy: no room for the worker's pipes.
            prlimit(pid, (open + 3) + ":");
            SupervisorProcess.Cli failed = s.cli("reload", "--control", s.control().toString());
            prlimit(pid, soft + ":");
            assertEquals(1, failed.exit(), failed + s.output().dump());
            assertTrue(failed.stderr().contains("EMFILE"), failed.toString());
            assertEquals(200, Http.get(port, "/").status(), "generation 1 serves on");
            SupervisorProcess.Cli ok = s.cli("reload", "--control", s.control().toString());
            assertEquals(0, ok.exit(), ok + s.output().dump());
            assertEquals(200, Http.get(port, "/").status());
            s.signal("TERM");
            assertEquals(0, s.awaitExit(STEP));
        }
    }

    private static String softNofile(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/limits"))) {
            if (line.startsWith("Max open files")) {
                return line.substring("Max open files".length()).trim().split("\\s+")[0];
            }
        }
        throw new AssertionError("no 'Max open files' in /proc/" + pid + "/limits");
    }

    private static void prlimit(long pid, String nofile) throws Exception {
        Process p = new ProcessBuilder("prlimit", "--pid", Long.toString(pid), "--nofile=" + nofile).inheritIO().start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "prlimit did not finish");
        assertEquals(0, p.exitValue(), "prlimit --pid " + pid + " --nofile=" + nofile);
    }

    /** Waits until {@code pid} has exited: a KILL is delivered at once, the exit follows when it next runs. */
    private static void awaitGone(long pid) throws InterruptedException {
        long deadline = System.nanoTime() + STEP.toNanos();
        while (!gone(pid)) {
            if (System.nanoTime() > deadline) {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                throw new AssertionError("process " + pid + " still runs " + STEP + " after the supervisor stopped");
            }
            Thread.sleep(20); // not our child: no exit event reaches this test, so /proc is polled, with the deadline above
        }
    }

    /** The worker and its descendants, once there are at least {@code count} of them. */
    private static List<Long> awaitTree(long root, int count) throws InterruptedException {
        long deadline = System.nanoTime() + STEP.toNanos();
        while (true) {
            List<Long> tree = tree(root);
            if (tree.size() >= count) {
                return tree;
            }
            assertTrue(System.nanoTime() < deadline, "worker " + root + " has only " + tree + " after " + STEP);
            Thread.sleep(20); // polling /proc, with the deadline above
        }
    }

    private static List<Long> tree(long root) {
        List<Long> out = new ArrayList<>();
        ArrayDeque<Long> todo = new ArrayDeque<>(List.of(root));
        while (!todo.isEmpty()) {
            long pid = todo.poll();
            if (gone(pid)) {
                continue;
            }
            out.add(pid);
            try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/" + pid + "/task"))) {
                for (Path t : tasks) {
                    for (String c : Files.readString(t.resolve("children")).trim().split(" ")) {
                        if (!c.isEmpty()) {
                            todo.add(Long.parseLong(c));
                        }
                    }
                }
            } catch (IOException | RuntimeException e) {
                // it ended meanwhile
            }
        }
        return out;
    }

    /** Exited: no such process, or a zombie (which holds nothing) about to be reaped. */
    private static boolean gone(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
        } catch (IOException e) {
            return true;
        }
    }
}
