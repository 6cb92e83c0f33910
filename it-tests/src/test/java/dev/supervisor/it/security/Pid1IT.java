package dev.supervisor.it.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.supervisor.it.SupervisorProcess;

/**
 * The supervisor as PID 1 of a new PID namespace (a container's init): orphans re-parented to it
 * are reaped, and TERM stops it gracefully (exit 0). The launcher runs {@code $JAVA_HOME/bin/java};
 * a JAVA_HOME whose java is {@code unshare --pid --fork --mount-proc REAL_JAVA "$@"} makes the
 * supervisor's JVM that PID 1, started by the real distribution.
 */
class Pid1IT {
    private static final int ORPHANS = 5;

    @TempDir
    Path tmp;
    @TempDir
    Path fixtures;
    @TempDir
    Path fakeJdk;

    @Test
    void reapsOrphansAndStopsOnTerm() throws Exception {
        Sec.requireRoot("unshare --pid needs root");
        Path dir = Sec.publicFixtures(fixtures);
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").readyNotify().javaHome(unsharingJdk())
                .command(List.of(Sec.python(), "-u", dir.resolve("orphans.py").toString(), Integer.toString(ORPHANS))).start()) {
            s.awaitReady(1);
            ProcessHandle init = s.handle().children().findFirst()
                    .orElseThrow(() -> new AssertionError("unshare (pid " + s.pid() + ") has no child" + s.output().dump()));
            assertEquals("1", nsPid(init.pid()), "the supervisor's JVM is PID 1 of its namespace");
            int from = 0;
            for (int i = 0; i < ORPHANS; i++) {
                // each orphan says it was re-parented to PID 1, the supervisor, just before it exits
                from = s.awaitLine(from, "^\\[1\\.0 \\d+\\] ORPHAN \\d+ PARENT 1 EXITING$", Duration.ofSeconds(15)).index() + 1;
            }
            // The reaper scans every 200 ms; 3 s is generous on a loaded machine.
            Sec.awaitTrue("no zombie child of the supervisor (pid " + init.pid() + ")", Duration.ofSeconds(3), () -> zombiesOf(init.pid()).isEmpty());
            SupervisorProcess.signal(init.pid(), "TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(30)), "TERM to PID 1 is a graceful stop" + s.output().dump());
            assertTrue(s.supervisorLog().contains("supervisor: stopped"), s.output().dump());
        }
    }

    /** A JAVA_HOME whose bin/java runs the real java as PID 1 of a new PID and mount namespace. */
    private Path unsharingJdk() throws IOException {
        String real = Optional.ofNullable(System.getProperty("it.supervisor.java.home")).filter(h -> !h.isEmpty())
                .orElse(System.getProperty("java.home"));
        Path bin = Files.createDirectories(fakeJdk.resolve("bin"));
        Path java = bin.resolve("java");
        Files.writeString(java, "#!/bin/sh\nexec unshare --pid --fork --mount-proc " + Path.of(real, "bin", "java") + " \"$@\"\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        return fakeJdk;
    }

    /** The pid of host process {@code pid} in its own (innermost) namespace, from NSpid. */
    private static String nsPid(long pid) {
        String ns = Sec.procStatus(pid, "NSpid");
        if (ns == null) {
            fail("no NSpid for " + pid);
        }
        String[] f = ns.split("\\s+");
        return f[f.length - 1];
    }

    /** Children of {@code parent} in state Z, from the host's /proc. */
    private static List<Long> zombiesOf(long parent) {
        List<Long> zombies = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                String name = p.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                long pid = Long.parseLong(name);
                String ppid = Sec.procStatus(pid, "PPid");
                String state = Sec.procStatus(pid, "State");
                if (ppid != null && state != null && Long.parseLong(ppid) == parent && state.startsWith("Z")) {
                    zombies.add(pid);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return zombies;
    }
}
