package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI's word: exit codes against a supervisor that does not answer, a file at the control
 * path left alone, a pid file's error with its reason, and a supervisor started with its stdout
 * and stderr closed.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CliWordIT {
    private static final Duration EXIT = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    @Test
    void aStoppedSupervisorIsNoAnswerNotAnInternalError() throws Exception {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").readyNotify().command(Fixtures.worker("http"))
                .start()) {
            s.awaitReady(1);
            String ctl = s.control().toString();
            s.signal("STOP");
            try {
                SupervisorProcess.Cli status = s.cli("status", "--control", ctl);
                assertEquals(2, status.exit(), "status: " + status);
                assertTrue(status.stderr().contains("no answer"), "says so: " + status);
                SupervisorProcess.Cli reload = s.cli("reload", "--control", ctl, "--timeout", "2s");
                assertEquals(1, reload.exit(), "reload that timed out: " + reload);
                assertTrue(reload.stderr().contains("may still happen"), "says what may still happen: " + reload);
                SupervisorProcess.Cli stop = s.cli("stop", "--control", ctl);
                assertEquals(2, stop.exit(), "stop: " + stop);
                assertTrue(stop.stderr().contains("the stop request was sent"), "says what happens: " + stop);
            } finally {
                s.signal("CONT");
            }
            // What stop said: the request is read once the supervisor runs again.
            assertEquals(0, s.awaitExit(EXIT), "the stop took effect" + s.output().dump());
        }
        SupervisorProcess.Cli gone = cli("status", "--control", tmp.resolve("ctl.sock").toString());
        assertEquals(2, gone.exit(), "no supervisor at all: " + gone);
    }

    @Test
    void aRegularFileAtTheControlPathIsRefusedAndLeftIntact() throws Exception {
        Path file = tmp.resolve("ctl.sock");
        Files.writeString(file, "precious\n");
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").command(Fixtures.worker("http")).start()) {
            assertEquals(64, s.awaitExit(EXIT), s.output().dump());
            List<String> err = s.output().lines(Output.Stream.STDERR);
            assertTrue(err.stream().anyMatch(l -> l.contains(file + " exists and is not a socket")), "names the path: " + err);
        }
        assertEquals("precious\n", Files.readString(file), "the file is left as it was");
    }

    @Test
    void aPidFileThatCannotBeWrittenSaysWhy() throws Exception {
        Path pidFile = tmp.resolve("no-such-dir/supervisor.pid");
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").option("--pid-file", pidFile.toString())
                .command(Fixtures.worker("http")).start()) {
            s.awaitLine("^supervisor: cannot write pid file " + java.util.regex.Pattern.quote(pidFile.toString())
                    + ": no such file or directory$");
        }
    }

    /** --user changes an existing control directory (0700 to 0710 of the workers' group) only as far as it must, and says so. */
    @Test
    void userOnAnExistingControlDirectorySaysWhatItChanges() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("ctl"), java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
        try (SupervisorProcess s = SupervisorProcess.run(tmp).rawArgs("run", "--user", "nobody", "--control", dir.resolve("ctl.sock").toString(),
                "-l", "web=127.0.0.1:0", "--", "sleep", "600").start()) {
            s.awaitLine("^supervisor: control directory " + java.util.regex.Pattern.quote(dir.toString())
                    + ": mode rwx------ set to rwx--x---, group \\d+ to \\d+ \\(the workers', for --user\\)$");
            s.awaitLine("^supervisor: started worker 1\\.0");
        }
    }

    /** Closed fds 1 and 2 get /dev/null before the JVM opens its files: else its jars land there and take its output. */
    @Test
    void closedStdoutAndStderrBecomeDevNull() throws Exception {
        Path ctl = tmp.resolve("ctl.sock");
        Process p = new ProcessBuilder("/bin/sh", "-c", "exec \"$0\" run --control \"$1\" -l web=127.0.0.1:0 -- sleep 600 >&- 2>&-",
                Fixtures.supervisorBin().toString(), ctl.toString()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            SupervisorProcess.Cli status;
            do {
                // no output to wait on (it is closed): the control socket answering is the event
                status = cli("status", "--json", "--control", ctl.toString());
            } while (status.exit() != 0 && System.nanoTime() < deadline && p.isAlive());
            assertEquals(0, status.exit(), "the supervisor runs: " + status);
            for (int fd = 1; fd <= 2; fd++) {
                assertEquals("/dev/null", Files.readSymbolicLink(Path.of("/proc/" + p.pid() + "/fd/" + fd)).toString(), "fd " + fd);
            }
        } finally {
            p.destroy();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "stops on TERM");
        }
        assertEquals(0, p.exitValue());
    }

    private static SupervisorProcess.Cli cli(String... args) throws Exception {
        Path out = Files.createTempFile("cli", ".out");
        Path err = Files.createTempFile("cli", ".err");
        try {
            List<String> cmd = new java.util.ArrayList<>(List.of(Fixtures.supervisorBin().toString()));
            cmd.addAll(List.of(args));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
            pb.environment().remove("JDK_JAVA_OPTIONS");
            pb.environment().remove("SUPERVISOR_CONTROL");
            Process p = pb.start();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), String.join(" ", cmd) + " did not finish");
            return new SupervisorProcess.Cli(p.exitValue(), Files.readString(out), Files.readString(err));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
