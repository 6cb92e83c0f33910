package dev.supervisor.it.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The .deb's units under a real systemd (252, bookworm) booted in a container: the package
 * installed with dpkg, {@code supervisor@web} configured with the shipped example (two demo
 * workers on the socket unit's port 80), then reloaded under load, stopped, killed, and
 * upgraded in place by a newer .deb (its postinst runs {@code supervisor upgrade} for every running
 * instance). The load runs inside the container's network namespace.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES) // reloads of JVM workers on a loaded machine
class SystemdUnitIT {
    private static final String UNIT = "supervisor@web.service";
    private static final String SOCKET = "supervisor@web.socket";
    private static final String CONTROL = "/run/supervisor/web/control.sock";
    private static final String WORKER = "dev.supervisor.demo.DemoWorker";
    /** Starting the unit waits for READY=1: JVMs on a shared machine. */
    private static final Duration START = Duration.ofSeconds(150);
    private static final Duration CMD = Duration.ofSeconds(60);
    private static final int RELOADS = 3;

    @TempDir
    static Path shared;

    private static Path rootfs;
    private static String deb;
    private static BumpedDeb.Bumped bumped;

    private SystemdContainer c;

    @BeforeAll
    @Timeout(value = 20, unit = TimeUnit.MINUTES) // the first run builds the root file system
    static void artifacts() throws Exception {
        Path target = Path.of(System.getProperty("supervisor.home", "../packaging/target/supervisor")).toAbsolutePath().normalize()
                .getParent();
        Path built;
        try (Stream<Path> list = Files.list(target)) {
            List<Path> debs = list.filter(p -> p.getFileName().toString().endsWith(".deb")).toList();
            if (debs.size() != 1) {
                fail("expected one .deb in " + target + ", found " + debs + ": build it first (mvn -B -q package -DskipTests)");
            }
            built = debs.get(0);
        }
        Path bind = Files.createDirectories(shared.resolve("bind"));
        Files.copy(built, bind.resolve(built.getFileName()));
        deb = "/it/" + built.getFileName();
        Files.copy(Path.of(SystemdUnitIT.class.getResource("/fixtures/load_client.py").toURI()), bind.resolve("load_client.py"));
        BumpedDeb.Bumped b = BumpedDeb.of(built, Files.createDirectories(shared.resolve("bump")), "+it2");
        Path inBind = Files.move(b.deb(), bind.resolve(b.deb().getFileName()), StandardCopyOption.REPLACE_EXISTING);
        bumped = new BumpedDeb.Bumped(Path.of("/it").resolve(inBind.getFileName()), b.debianVersion(), b.supervisorVersion());
        rootfs = Rootfs.get();
    }

    @BeforeEach
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void boot() throws Exception {
        c = SystemdContainer.boot(rootfs, Map.of(shared.resolve("bind"), "/it"));
    }

    @AfterEach
    void halt() {
        if (c != null) {
            c.close();
        }
    }

    @Test
    void reloadUnderLoadFailsNoRequestAndKeepsTheMainPid() throws Exception {
        installAndStart();
        Map<String, String> first = show(UNIT);
        assertEquals("running", first.get("SubState"), first.toString());
        assertGeneration(1, first.get("StatusText"));
        String mainPid = first.get("MainPID");
        assertNotEquals("0", mainPid);
        assertEquals("java", c.check(CMD, "cat", "/proc/" + mainPid + "/comm").strip(), "the launcher execs the JVM: it is the main pid");

        ContainerLoad load = ContainerLoad.start(c, "/it/load_client.py", 80, 2, 100_000, Duration.ofMinutes(5));
        List<Long> reloadMs = new ArrayList<>();
        for (int gen = 2; gen <= RELOADS + 1; gen++) {
            long t0 = System.nanoTime();
            c.check(START, "systemctl", "reload", UNIT); // returns when ExecReload= does: the new generation is ready
            reloadMs.add((System.nanoTime() - t0) / 1_000_000);
            Map<String, String> now = show(UNIT);
            assertEquals(mainPid, now.get("MainPID"), "MainPID after reload " + (gen - 1));
            assertEquals("running", now.get("SubState"), now.toString());
            assertGeneration(gen, now.get("StatusText"));
        }
        ContainerLoad.Result r = load.finish(CMD);
        System.out.println("[systemd] " + RELOADS + " reloads of " + UNIT + " under load (systemctl reload took " + reloadMs + " ms): " + r);
        assertEquals(0, r.failed(), "failed requests " + r.failures() + " " + r.samples());
        assertTrue(r.generations().containsKey(Integer.toString(RELOADS + 1)), "the last generation answered the load: " + r.generations());
        assertEquals(RELOADS + 1, new ObjectMapper().readTree(c.check(CMD, "curl", "-sS", "--max-time", "20", "http://127.0.0.1/"))
                .path("generation").asInt());
    }

    @Test
    void stopLeavesNoWorkerAndTheSocketListening() throws Exception {
        installAndStart();
        Set<String> workers = workers();
        assertEquals(2, workers.size(), "the example config runs two workers: " + workers);
        c.check(START, "systemctl", "stop", UNIT);
        Map<String, String> after = show(UNIT);
        assertEquals("inactive", after.get("ActiveState"), after.toString());
        assertEquals(Set.of(), workers(), "workers left after systemctl stop");
        assertEquals("listening", show(SOCKET).get("SubState"), "the socket unit keeps the port");
    }

    @Test
    void killNineOfTheSupervisorLeavesNoWorkerAndTheUnitRestarts() throws Exception {
        installAndStart();
        String mainPid = show(UNIT).get("MainPID");
        Set<String> old = workers();
        assertEquals(2, old.size(), old.toString());
        c.check(CMD, "kill", "-KILL", mainPid);
        // KillMode=mixed: once the main process is gone systemd KILLs the rest of the cgroup; then Restart=on-failure.
        Map<String, String> back = awaitShow(UNIT, s -> "1".equals(s.get("NRestarts")) && "running".equals(s.get("SubState")));
        assertNotEquals(mainPid, back.get("MainPID"));
        Set<String> now = workers();
        assertEquals(2, now.size(), "the restarted supervisor runs two workers: " + now);
        Set<String> survivors = new HashSet<>(old);
        survivors.retainAll(now);
        assertEquals(Set.of(), survivors, "workers of the KILLed supervisor still running");
        for (String pid : old) {
            assertNotEquals(0, c.exec(CMD, "kill", "-0", pid).code(), "worker " + pid + " of the KILLed supervisor is alive");
        }
    }

    /**
     * Debian's "supervisor" package (supervisord) is in the root file system: the .deb installs
     * beside it without a file of either replaced, each keeps its own manual page, and supervisord's
     * service runs on while ours answers.
     */
    @Test
    void installsBesideDebiansSupervisord() throws Exception {
        assertEquals("install ok installed", c.check(CMD, "dpkg-query", "-W", "-f=${Status}", "supervisor").strip(),
                "the root file system has Debian's supervisor package");
        String supervisordFiles = c.check(CMD, "dpkg-query", "-L", "supervisor");
        c.check(START, "dpkg", "-i", deb);
        assertEquals("install ok installed install ok installed",
                c.check(CMD, "dpkg-query", "-W", "-f=${Status} ", "supervisor", "socket-supervisor").strip());
        assertEquals(supervisordFiles, c.check(CMD, "dpkg-query", "-L", "supervisor"), "supervisord's files are its own still");
        assertEquals("supervisor: /usr/share/man/man1/supervisor.1.gz",
                c.check(CMD, "dpkg-query", "-S", "/usr/share/man/man1/supervisor.1.gz").strip());
        assertEquals("socket-supervisor: /usr/share/man/man1/supervisor.1socket.gz",
                c.check(CMD, "dpkg-query", "-S", "/usr/share/man/man1/supervisor.1socket.gz").strip());
        awaitShow("supervisor.service", s -> "running".equals(s.get("SubState")));
        // Type=simple: running before supervisord has made its socket
        assertTrue(awaitCommand("supervisorctl", "version").strip().matches("\\d+(\\.\\d+)+"), "supervisord answers its client");
        assertTrue(c.check(CMD, "supervisor", "--version").contains("supervisor"), "ours runs beside it");
    }

    /**
     * A newer .deb installed over a running instance: the postinst has the supervisor re-execute
     * itself from the new installation. Same MainPID, the same workers (no generation started: only
     * generation 1 answered the load), the new version in status and STATUS=, and no request failed.
     * Then the new image owns the workers it adopted: a reload replaces and drains them.
     */
    @Test
    void newerPackageUpgradesTheRunningInstanceInPlace() throws Exception {
        installAndStart();
        String mainPid = show(UNIT).get("MainPID");
        Set<String> workers = workers();
        assertEquals(2, workers.size(), "the example config runs two workers: " + workers);
        JsonNode before = status();
        String oldVersion = before.path("version").asText();
        assertEquals(0, before.path("upgrades").asInt(), before.toString());
        assertNotEquals(bumped.supervisorVersion(), oldVersion, before.toString());
        ContainerLoad load = ContainerLoad.start(c, "/it/load_client.py", 80, 2, 100_000, Duration.ofMinutes(5));
        // the postinst upgrades every running supervisor@ instance in place
        long t0 = System.nanoTime();
        String dpkg = c.check(START, "dpkg", "-i", bumped.deb().toString());
        long dpkgMs = (System.nanoTime() - t0) / 1_000_000;
        ContainerLoad.Result r = load.finish(CMD);
        System.out.println("[systemd] " + bumped.debianVersion() + " installed over a running " + UNIT + " under load (dpkg -i took "
                + dpkgMs + " ms): " + r);
        assertEquals(0, r.failed(), "failed requests " + r.failures() + " " + r.samples() + "\n" + dpkg);
        assertEquals(Set.of("1"), r.generations().keySet(), "only generation 1 answered: no worker was replaced " + r.generations());
        assertTrue(dpkg.contains("upgraded from " + oldVersion + " to " + bumped.supervisorVersion() + " (upgrade 1)"),
                "the postinst ran 'supervisor upgrade' for " + UNIT + ":\n" + dpkg);
        Map<String, String> after = show(UNIT);
        assertEquals(mainPid, after.get("MainPID"), "MainPID across the package upgrade");
        assertEquals("running", after.get("SubState"), after.toString());
        assertGeneration(1, after.get("StatusText"));
        assertTrue(after.get("StatusText").contains(bumped.supervisorVersion()), "StatusText names the new version: " + after);
        JsonNode st = status();
        assertEquals(bumped.supervisorVersion(), st.path("version").asText(), "status shows the new version: " + st);
        assertEquals(1, st.path("upgrades").asInt(), st.toString());
        assertEquals(Long.parseLong(mainPid), st.path("pid").asLong(), st.toString());
        assertEquals(workers, workers(), "the workers are untouched");
        assertEquals(bumped.debianVersion(), c.check(CMD, "dpkg-query", "-W", "-f=${Version}", "socket-supervisor").strip());
        assertTrue(c.check(CMD, "supervisor", "--version").contains(bumped.supervisorVersion()), "the installed CLI is the new build");

        // the new image owns the adopted workers: a reload replaces and drains them
        c.check(START, "systemctl", "reload", UNIT);
        Map<String, String> reloaded = show(UNIT);
        assertGeneration(2, reloaded.get("StatusText"));
        assertEquals(mainPid, reloaded.get("MainPID"));
        Set<String> next = workersAfterExit(workers);
        assertEquals(2, next.size(), next.toString());
        assertTrue(next.stream().noneMatch(workers::contains), "the adopted workers drained: " + workers + " -> " + next);
        assertEquals(1, status().path("upgrades").asInt(), "a reload is no upgrade");
    }

    // --- helpers -------------------------------------------------------------------------------

    /** dpkg -i the built package, the shipped example as the instance's config, then start the socket and the service. */
    private void installAndStart() throws IOException, InterruptedException {
        c.check(START, "dpkg", "-i", deb);
        c.check(CMD, "cp", "/usr/share/doc/socket-supervisor/examples/web.json", "/etc/supervisor/web.json");
        Host.Result start = c.exec(START, "systemctl", "start", SOCKET, UNIT);
        if (start.code() != 0) {
            fail("systemctl start " + UNIT + " exited " + start.code() + ": " + start.output()
                    + c.exec(CMD, "journalctl", "--no-pager", "-n", "60", "-u", UNIT).output());
        }
    }

    /** Properties of {@code unit} as {@code systemctl show} gives them (what {@code status} shows). */
    private Map<String, String> show(String unit) throws IOException, InterruptedException {
        Map<String, String> props = new HashMap<>();
        for (String line : c.check(CMD, "systemctl", "show", "-p", "MainPID,StatusText,ActiveState,SubState,NRestarts,Result", unit)
                .lines().toList()) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                props.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return props;
    }

    /** Polls {@link #show} until {@code until} holds, with a deadline. */
    private Map<String, String> awaitShow(String unit, Predicate<Map<String, String>> until) throws IOException, InterruptedException {
        return poll(() -> show(unit), until, s -> unit + " did not get there in " + START + ": " + s + "\n"
                + c.exec(CMD, "journalctl", "--no-pager", "-n", "60", "-u", unit).output());
    }

    /** The output of {@code argv} in the container once it exits 0, polled with a deadline. */
    private String awaitCommand(String... argv) throws IOException, InterruptedException {
        return poll(() -> c.exec(CMD, argv), r -> r.code() == 0,
                r -> String.join(" ", argv) + " did not succeed in " + START + ": exit " + r.code() + ": " + r.output()).output();
    }

    /** What the container says, asked every 200 ms until it is {@code done}, for at most {@link #START}. */
    private static <T> T poll(Probe<T> probe, Predicate<T> done, Probe.Why<T> why) throws IOException, InterruptedException {
        long end = System.nanoTime() + START.toNanos();
        T v;
        while (!done.test(v = probe.get())) {
            if (System.nanoTime() - end > 0) {
                fail(why.of(v));
            }
            Thread.sleep(200); // a poll: neither systemd's state nor a command's success has an event to wait on from outside
        }
        return v;
    }

    private interface Probe<T> {
        T get() throws IOException, InterruptedException;

        interface Why<T> {
            String of(T last) throws IOException, InterruptedException;
        }
    }

    /** {@code supervisor status --json} of the instance, as root in the container. */
    private JsonNode status() throws IOException, InterruptedException {
        return new ObjectMapper().readTree(c.check(CMD, "supervisor", "status", "--json", "--control", CONTROL));
    }

    /** Waits for each of {@code pids} to exit (coreutils' tail --pid, in the container), then returns the workers that run. */
    private Set<String> workersAfterExit(Set<String> pids) throws IOException, InterruptedException {
        for (String pid : pids) {
            c.check(START, "tail", "--pid=" + pid, "-s", "0.1", "-f", "/dev/null");
        }
        return workers();
    }

    /** The pids of the demo workers running in the container. */
    private Set<String> workers() throws IOException, InterruptedException {
        Host.Result r = c.exec(CMD, "pgrep", "-f", WORKER);
        if (r.code() > 1) {
            fail("pgrep exited " + r.code() + ": " + r.output());
        }
        return r.output().lines().map(String::strip).filter(s -> !s.isEmpty()).collect(Collectors.toCollection(HashSet::new));
    }

    private static void assertGeneration(int gen, String statusText) {
        Matcher m = Pattern.compile("generation (\\d+)").matcher(statusText == null ? "" : statusText);
        assertTrue(m.find() && Integer.parseInt(m.group(1)) == gen, "StatusText names generation " + gen + ": " + statusText);
    }
}
