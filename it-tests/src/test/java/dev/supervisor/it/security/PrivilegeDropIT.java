package dev.supervisor.it.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.supervisor.it.Fixtures;
import dev.supervisor.it.Http;
import dev.supervisor.it.Output;
import dev.supervisor.it.SupervisorProcess;

/**
 * {@code --user nobody}: the supervisor binds a privileged port as root, the workers run as nobody
 * (uid, gid and groups from /proc), reach NOTIFY_SOCKET (--ready notify) and SUPERVISOR_SOCKET
 * (listeners, as a current worker), while nobody's other processes may do neither.
 */
class PrivilegeDropIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    @TempDir
    Path fixtures;

    @Test
    void workersRunAsNobodyOnAPrivilegedPort() throws Exception {
        Sec.requireRoot("only root binds a port below 1024 and switches workers to another user");
        int[] nobody = Sec.ids("nobody");
        Path dir = Sec.publicFixtures(fixtures);
        int port = Sec.freePrivilegedPort();
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:" + port).readyNotify().workers(2)
                .option("--user", "nobody").command(java.util.List.of(Sec.python(), "-u", dir.resolve("user_worker.py").toString())).start()) {
            s.awaitReady(1); // READY=1 reached NOTIFY_SOCKET from uid nobody
            assertEquals(port, s.port("web"));
            for (long pid : s.workerPids(1)) {
                assertEquals(nobody[0] + "\t" + nobody[0] + "\t" + nobody[0] + "\t" + nobody[0], Sec.procStatus(pid, "Uid"), "uid of worker " + pid);
                assertEquals(nobody[1] + "\t" + nobody[1] + "\t" + nobody[1] + "\t" + nobody[1], Sec.procStatus(pid, "Gid"), "gid of worker " + pid);
                Output.Match ids = s.awaitLine(0, "^\\[1\\.\\d " + pid + "\\] IDS (.*)$", Duration.ofSeconds(5));
                JsonNode reported = JSON.readTree(ids.group(1));
                assertEquals(nobody[0], reported.path("euid").asInt());
                assertEquals("[" + nobody[1] + "]", reported.path("groups").toString(), "supplementary groups: nobody's own, not root's");
                // SUPERVISOR_SOCKET: the workers' uid reaches it, and a current worker gets its listener
                Output.Match control = s.awaitLine(0, "^\\[1\\.\\d " + pid + "\\] CONTROL (.*)$", Duration.ofSeconds(5));
                JsonNode answer = JSON.readTree(control.group(1));
                assertEquals("{\"v\":1,\"ok\":true,\"names\":[\"web\"]}", answer.path("answer").toString(), control.group(1));
                assertEquals(1, answer.path("fds").asInt());
            }
            JsonNode body = JSON.readTree(Http.get(port, "/").body());
            assertEquals(nobody[0], body.path("euid").asInt(), "the answer came from a worker running as nobody");

            // the sockets are the workers' group's, not everyone's
            assertEquals("rwx--x---", PosixFilePermissions.toString(Files.getPosixFilePermissions(s.control().getParent())));
            assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(s.control())));

            // another process of uid nobody may neither control the supervisor nor take its listeners
            int mark = s.output().size();
            Sec.Result r = Sec.runAs(nobody, Sec.python(), dir.resolve("peer.py").toString(), s.control().toString(),
                    "{\"v\":1,\"cmd\":\"stop\"}");
            assertEquals("ANSWER {\"v\":1,\"ok\":false,\"error\":\"permission denied: the workers' uid may not stop this supervisor\"}\nEOF",
                    r.stdout().strip(), r.toString());
            s.awaitLine(mark, "^supervisor: control socket: refused stop from pid \\d+ \\(the workers' uid may ask for listeners and watch only\\)$",
                    Duration.ofSeconds(5));
            r = Sec.runAs(nobody, Sec.python(), dir.resolve("peer.py").toString(), s.control().toString(), "{\"v\":1,\"cmd\":\"listeners\"}");
            assertTrue(r.stdout().matches("(?s)ANSWER \\{\"v\":1,\"ok\":false,\"error\":\"pid \\d+ is not a current worker of this supervisor\"}\nEOF\n"),
                    r.toString());
            assertEquals(200, Http.get(port, "/").status(), "still serving");
            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(30)));
        }
    }

    @Test
    void aUserThatDoesNotExistIsBadUsage() {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).rawArgs("run", "--user", "no-such-user-x", "-l", "web=127.0.0.1:0",
                "--control", tmp.resolve("ctl.sock").toString(), "--", "true").start()) {
            assertEquals(64, s.awaitExit(Duration.ofSeconds(30)));
            s.awaitLine("^supervisor: --user no-such-user-x: no user 'no-such-user-x'$", Duration.ofSeconds(20));
        }
    }

    @Test
    void userWithoutRootIsBadUsage() throws Exception {
        int[] user = Sec.testUser();
        // a copy of the distribution that the test user can read, wherever the build lives
        Path home = Files.createDirectories(fixtures.resolve("supervisor"));
        Sec.publicFixtures(fixtures);
        Path built = Fixtures.supervisorBin().getParent().getParent();
        Sec.Result copy = Sec.run(Duration.ofSeconds(60), "cp", "-R", built + "/.", home.toString());
        assertEquals(0, copy.exit(), copy.toString());
        Sec.run(Duration.ofSeconds(60), "chmod", "-R", "a+rX", home.toString());
        String javaHome = System.getProperty("java.home");
        Sec.Result r = Sec.runAs(user, "env", "JAVA_HOME=" + javaHome, home.resolve("bin/supervisor").toString(), "run", "--user", "nobody",
                "-l", "web=127.0.0.1:0", "--control", "/tmp/supervisor-it-" + java.util.UUID.randomUUID() + "/ctl.sock", "--", "true");
        assertEquals(64, r.exit(), r.toString());
        assertEquals("supervisor: --user nobody needs the supervisor to run as root (it runs as uid " + user[0] + ")", r.stderr().strip(),
                r.toString());
    }
}
