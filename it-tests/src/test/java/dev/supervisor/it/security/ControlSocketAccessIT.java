package dev.supervisor.it.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.UUID;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.supervisor.it.Http;
import dev.supervisor.it.SupervisorProcess;
import dev.supervisor.it.SupervisorProcess.Cli;

/**
 * Who may talk to the control socket (SECURITY.md): the supervisor's uid and root. Another uid is
 * stopped twice: by the 0700 directory (it cannot reach the socket at all), and, where it can reach
 * the socket, by SO_PEERCRED (an error answer, a log line, the connection closed). A process of
 * our own uid that is not a worker gets no listener fds.
 */
class ControlSocketAccessIT {
    private static final String STATUS = "{\"v\":1,\"cmd\":\"status\"}";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    @TempDir
    Path fixtures;

    private static SupervisorProcess.Builder supervisor(Path controlDir) {
        return SupervisorProcess.run(controlDir).listen("web", "127.0.0.1:0").readyNotify().command(Sec.worker("http"));
    }

    @Test
    void anotherUidCannotReachTheSocketInItsPrivateDirectory() throws Exception {
        int[] user = Sec.testUser();
        Path peer = Sec.publicFixtures(fixtures).resolve("peer.py");
        try (SupervisorProcess s = supervisor(tmp).start()) {
            s.awaitReady(1);
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(s.control().getParent())));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(s.control())));
            Sec.Result r = Sec.runAs(user, Sec.python(), peer.toString(), s.control().toString(), STATUS);
            assertEquals("CONNECT-FAILED EACCES", r.stdout().strip(), "uid " + user[0] + " reached the control socket: " + r);
            // and we, the owner, still can
            assertTrue(Sec.request(s.control(), STATUS).contains("\"ok\":true"));
        }
    }

    @Test
    void anotherUidThatReachesTheSocketIsRefusedByPeerCredentials() throws Exception {
        int[] user = Sec.testUser();
        Path peer = Sec.publicFixtures(fixtures).resolve("peer.py");
        // /tmp itself is accepted as the control directory (the socket's mode guards it there);
        // the test then opens the socket to everyone, as a careless chmod or umask would.
        Path control = Path.of("/tmp", "supervisor-it-" + UUID.randomUUID() + ".sock");
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("run", "-l", "web=127.0.0.1:0", "--ready", "notify",
                "--control", control.toString(), "--"));
        args.addAll(Sec.worker("http"));
        try (SupervisorProcess s = SupervisorProcess.run(tmp).rawArgs(args.toArray(new String[0])).start()) {
            s.awaitReady(1);
            Files.setPosixFilePermissions(control, PosixFilePermissions.fromString("rw-rw-rw-"));
            int mark = s.output().size();
            Sec.Result r = Sec.runAs(user, Sec.python(), peer.toString(), control.toString(), STATUS,
                    "{\"v\":1,\"cmd\":\"stop\"}", "{\"v\":1,\"cmd\":\"listeners\"}");
            assertEquals("ANSWER {\"v\":1,\"ok\":false,\"error\":\"permission denied: uid " + user[0]
                    + " may not control this supervisor\"}\nEOF", r.stdout().strip(), r.toString());
            s.awaitLine(mark, "^supervisor: control socket: refused pid \\d+ of uid " + user[0]
                    + " \\(only uid 0 and root may connect\\)$", Duration.ofSeconds(5));
            // the stop it sent was never read: the supervisor serves on
            assertTrue(Sec.request(control, STATUS).contains("\"ok\":true"));
            assertEquals(200, Http.get(s.port("web"), "/").status());
        } finally {
            Files.deleteIfExists(control);
        }
    }

    @Test
    void aProcessThatIsNotAWorkerGetsNoListeners() throws Exception {
        try (SupervisorProcess s = supervisor(tmp).start()) {
            s.awaitReady(1);
            int mark = s.output().size();
            long self = ProcessHandle.current().pid();
            // the JDK's own AF_UNIX channel: this test JVM is root, but no worker of the supervisor
            assertEquals("{\"v\":1,\"ok\":false,\"error\":\"pid " + self + " is not a current worker of this supervisor\"}",
                    Sec.request(s.control(), "{\"v\":1,\"cmd\":\"listeners\"}"));
            s.awaitLine(mark, "^supervisor: control socket: refused listeners to pid " + self + ": not a current worker$", Duration.ofSeconds(5));
            assertEquals("{\"v\":1,\"ok\":false,\"error\":\"pid " + self + " is not a current worker of this supervisor\"}",
                    Sec.request(s.control(), "{\"v\":1,\"cmd\":\"watch\"}"));
            assertTrue(Sec.request(s.control(), STATUS).contains("\"ok\":true"));
        }
    }

    @Test
    void aDrainingWorkerGetsNoListeners() throws Exception {
        Path dir = Sec.publicFixtures(fixtures);
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").readyNotify()
                .command(java.util.List.of(Sec.python(), "-u", dir.resolve("user_worker.py").toString())).start()) {
            s.awaitReady(1);
            long old = s.workerPids(1).get(0);
            JsonNode current = JSON.readTree(s.awaitLine(0, "^\\[1\\.0 " + old + "\\] CONTROL (.*)$", Duration.ofSeconds(5)).group(1));
            assertEquals(1, current.path("fds").asInt(), "a current worker gets its listener: " + current);
            Cli reload = s.cli("reload", "--control", s.control().toString());
            assertEquals(0, reload.exit(), reload.toString());
            // generation 1 was told to drain (TERM), and asks again on its way out
            JsonNode draining = JSON.readTree(s.awaitLine(0, "^\\[1\\.0 " + old + "\\] DRAIN-CONTROL (.*)$", Duration.ofSeconds(10)).group(1));
            assertEquals("{\"v\":1,\"ok\":false,\"error\":\"pid " + old + " is not a current worker of this supervisor\"}",
                    draining.path("answer").toString());
            assertEquals(0, draining.path("fds").asInt());
        }
    }

    @Test
    void aControlDirectoryOthersCanEnterOrOwnIsRefused() throws Exception {
        int[] user = Sec.testUser();
        Path open = Files.createDirectory(tmp.resolve("open"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxr-xr-x"));
        refused(open, "control directory " + open + " must be a directory of mode 0700 owned by uid 0 (it is rwxr-xr-x, owner 0, group 0)");
        Path theirs = Files.createDirectory(tmp.resolve("theirs"));
        Files.setPosixFilePermissions(theirs, PosixFilePermissions.fromString("rwx------"));
        Sec.Result chown = Sec.run(Duration.ofSeconds(10), "chown", user[0] + ":" + user[1], theirs.toString());
        assertEquals(0, chown.exit(), chown.toString());
        refused(theirs, "control directory " + theirs + " must be a directory of mode 0700 owned by uid 0 (it is rwx------, owner "
                + user[0] + ", group " + user[1] + ")");
    }

    private void refused(Path dir, String message) {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).rawArgs("run", "-l", "web=127.0.0.1:0", "--control", dir.resolve("ctl.sock").toString(),
                "--", "true").start()) {
            assertEquals(69, s.awaitExit(Duration.ofSeconds(30)));
            s.awaitLine(0, "^supervisor: " + java.util.regex.Pattern.quote(message) + ": choose another --control, or fix it$", Duration.ofSeconds(5));
        }
    }
}
