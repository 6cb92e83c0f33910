package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.jar.Attributes;
import java.util.jar.Manifest;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Self-upgrade in place ({@code supervisor upgrade} and SIGUSR2) on a copy of the built
 * distribution. The supervisor is started from the copy's {@code bin/supervisor}: that is the
 * launcher an upgrade checks and re-executes, so the test changes the copy as installing a newer
 * package would (a new {@code Implementation-Version} in the supervisor jar's manifest before each
 * upgrade, renamed into place as dpkg does) or breaks it (a main jar of garbage; a JDK too old).
 * Same pid, same workers, no request failed, and afterwards the new image owns the workers it
 * adopted fully; a broken installation changes nothing.
 *
 * <p>Each upgrade is two cold JVM starts (the pre-flight check, then the new image), 2-4 s each on a
 * shared 2-core machine, so the workers are the light python fixture, not JVMs, and the
 * class-data sharing archive (keyed by the jars, which every upgrade here changes) is off.
 */
class UpgradeIT {
    static final int UPGRADES = 20;
    /** Every 4th upgrade is asked for by SIGUSR2, the others by {@code supervisor upgrade}. */
    static final int BY_SIGNAL_EVERY = 4;
    /** One upgrade, from the request to the new image serving: two cold JVM starts on a busy machine. */
    static final Duration UPGRADE = Duration.ofMinutes(3);
    static final Duration STEP = Duration.ofSeconds(30);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path ctl;
    @TempDir
    Path tmp;

    /**
     * 20 upgrades (every 4th by SIGUSR2) under a bounded load from the loopback: no request fails,
     * the pid and both workers' pids stay, status answers after each with the version just
     * installed, and a status request sent at any time during them is answered. Then the last image
     * reloads the adopted workers (one drains, one ignores its drain signal and is KILLed at the
     * drain timeout), restarts a crashed one, and stops with none left.
     */
    @Test
    @Timeout(value = 20, unit = TimeUnit.MINUTES) // ~5 min here; 20 x two cold JVM starts on a loaded machine may take longer
    void twentyUpgradesUnderLoadKeepThePidTheWorkersAndEveryRequest() throws Exception {
        Dist dist = Dist.copy(tmp.resolve("dist"));
        String base = dist.version();
        assertEquals(Dist.version(Dist.mainJar(Fixtures.supervisorHome())), base, "the copy is the built distribution");
        try (SupervisorProcess s = start(dist).workers(2).option("--drain-timeout", "3s").start()) {
            int port = s.port("web");
            s.awaitReady(1);
            long pid = s.pid();
            List<Long> workers = sorted(s.workerPids(1));
            assertEquals(2, workers.size(), "two workers: " + workers);
            JsonNode first = status(s.control());
            assertEquals(base, first.path("version").asText(), "status shows the distribution's version: " + first);
            assertEquals(0, first.path("upgrades").asInt(), first.toString());
            assertFalse(first.has("last_upgrade_pause_ms"), "no upgrade yet: " + first);
            Instant imageStarted = Instant.parse(first.path("image_started").asText());

            int mark = s.output().size();
            Load.Running load = Load.against(port, "/").threads(2).requests(50_000_000).deadline(Duration.ofMinutes(15))
                    .countBy(r -> Long.toString(pid(r))).start();
            List<Long> tookMs = new ArrayList<>();
            List<Long> handOverMs = new ArrayList<>();
            List<Long> pauseMs = new ArrayList<>();
            Load.Result loaded;
            StatusProbe.Result probed;
            try (StatusProbe probe = StatusProbe.start(s.control())) {
                try {
                    String previous = base;
                    for (int i = 1; i <= UPGRADES; i++) {
                        String version = base + "+u" + i;
                        dist.setVersion(version);
                        int before = s.output().size();
                        long t0 = System.nanoTime();
                        if (i % BY_SIGNAL_EVERY == 0) {
                            s.signal("USR2");
                            int n = i;
                            probe.await(st -> st.path("upgrades").asInt() >= n, UPGRADE, "status counting upgrade " + i + " (SIGUSR2)", s);
                        } else {
                            SupervisorProcess.Cli c = upgrade(s);
                            assertEquals(0, c.exit(), "supervisor upgrade #" + i + ": " + c + s.output().dump());
                            assertEquals("upgraded from " + previous + " to " + version + " (upgrade " + i + ")", c.stdout().strip(),
                                    c.toString());
                        }
                        tookMs.add((System.nanoTime() - t0) / 1_000_000);
                        Output.Match logged = s.awaitLine(before, "^supervisor: upgraded from " + Pattern.quote(previous) + " to "
                                + Pattern.quote(version) + " \\(upgrade " + i + ", (\\d+) ms from the hand-over\\)", STEP);
                        handOverMs.add(Long.parseLong(logged.group(1)));

                        JsonNode st = status(s.control());
                        assertEquals(pid, st.path("pid").asLong(), "the same process after upgrade " + i + ": " + st);
                        assertEquals(version, st.path("version").asText(), "the version installed before upgrade " + i + ": " + st);
                        assertEquals(i, st.path("upgrades").asInt(), st.toString());
                        assertEquals(1, st.path("serving").asInt(), "no reload happened: " + st);
                        assertEquals(workers, pids(st, 1), "the same workers after upgrade " + i + ": " + st);
                        Instant started = Instant.parse(st.path("image_started").asText());
                        assertTrue(started.isAfter(imageStarted), "a new image started: " + imageStarted + " -> " + started);
                        assertTrue(st.path("uptime_ms").asLong() >= st.path("image_uptime_ms").asLong(),
                                "uptime counts from the first image, image_uptime_ms from this one: " + st);
                        assertTrue(st.path("last_upgrade_pause_ms").isNumber(), "last_upgrade_pause_ms after an upgrade: " + st);
                        pauseMs.add(st.path("last_upgrade_pause_ms").asLong());
                        imageStarted = started;
                        previous = version;
                    }
                } finally {
                    loaded = load.stop();
                }
                probed = probe.stop();
            }
            System.out.println("UPGRADE-MEASURE " + UPGRADES + " upgrades under load (every " + BY_SIGNAL_EVERY + "th by SIGUSR2): " + loaded
                    + "; request to serving " + tookMs + " ms; hand-over " + handOverMs + " ms (daemon log); last_upgrade_pause_ms "
                    + pauseMs + "; status probe: " + probed);
            assertEquals(0, loaded.failed(), "requests failed across the upgrades: " + loaded);
            assertTrue(loaded.answered() > 0, loaded.toString());
            Set<String> workerKeys = new HashSet<>();
            workers.forEach(w -> workerKeys.add(Long.toString(w)));
            assertTrue(workerKeys.containsAll(loaded.byKey().keySet()), "only the first two workers answered: " + loaded);
            assertEquals(List.of(), probed.failures(), "status requests sent during the upgrades that got no answer");
            assertTrue(probed.answers() >= UPGRADES, "the probe kept asking: " + probed);
            Pattern workerEvent = Pattern.compile("^supervisor: (started worker|worker \\d+\\.\\d+ \\(pid \\d+\\) (exited|killed)|restarting )");
            List<String> workerEvents = lines(s, mark).stream().filter(l -> workerEvent.matcher(l).find()).toList();
            assertEquals(List.of(), workerEvents, "no worker started, ended or restarted during the upgrades");
            for (long w : workers) {
                assertTrue(alive(w), "worker " + w + " runs after the upgrades");
            }
            assertEquals(base + "+u" + UPGRADES, s.status().path("version").asText(), "supervisor status --json says so too");

            // The last image owns the workers it adopted. A reload replaces and drains them: one exits
            // on its drain signal, the other holds a request and ignores the signal (it works 600 s
            // more), and is KILLed at the 3 s drain timeout.
            mark = s.output().size();
            CompletableFuture<Http.Response> held = Http.getAsync(port, "/hold?ms=600000");
            Output.Match holding = s.awaitLine(mark, "^\\[1\\.\\d (\\d+)\\] holding request$", STEP);
            long stubborn = Long.parseLong(holding.group(1));
            long drains = workers.get(0) == stubborn ? workers.get(1) : workers.get(0);
            assertTrue(workers.contains(stubborn), stubborn + " is one of " + workers);
            mark = s.output().size();
            SupervisorProcess.Cli reload = s.cli(Duration.ofSeconds(90), "reload", "--control", s.control().toString());
            assertEquals(0, reload.exit(), "reload after the upgrades: " + reload);
            s.awaitLine(mark, "^supervisor: worker 1\\.\\d \\(pid " + drains + "\\) exited with code 0 \\(drained\\)$", STEP);
            s.awaitLine(mark, "^supervisor: worker 1\\.\\d \\(pid " + stubborn + "\\) still running 3s after the drain signal: killing it$",
                    STEP);
            s.awaitLine(mark, "^supervisor: worker 1\\.\\d \\(pid " + stubborn + "\\) killed by SIGKILL \\(at the drain timeout\\)$", STEP);
            s.awaitLine(mark, "^supervisor: generation 1 exited$", STEP);
            awaitGone(workers);
            held.handle((r, e) -> null).get(STEP.toSeconds(), TimeUnit.SECONDS); // reset by the KILL: no answer is expected
            JsonNode afterReload = status(s.control());
            List<Long> second = pids(afterReload, 2);
            assertEquals(2, second.size(), "generation 2 has two workers: " + afterReload);
            assertTrue(Collections.disjoint(workers, second), "new workers " + second + ", the old were " + workers);
            assertEquals(2, afterReload.path("serving").asInt(), afterReload.toString());
            assertTrue(second.contains(pid(Http.get(port, "/"))), "generation 2 serves");

            // A crashed worker is restarted in its slot.
            long victim = second.get(0);
            int slot = slot(afterReload, 2, victim);
            mark = s.output().size();
            SupervisorProcess.signal(victim, "KILL");
            s.awaitLine(mark, "^supervisor: worker 2\\." + slot + " \\(pid " + victim + "\\) killed by SIGKILL$", STEP);
            s.awaitLine(mark, "^supervisor: restarting generation 2 worker " + slot + " in \\d+ ms$", STEP);
            Output.Match started = s.awaitLine(mark, "^supervisor: started worker 2\\." + slot + " \\(pid (\\d+)\\)", STEP);
            long replacement = Long.parseLong(started.group(1));
            assertNotEquals(victim, replacement);
            JsonNode restarted = status(s.control());
            assertEquals(replacement, pidOf(restarted, 2, slot), "status shows the new pid in slot " + slot + ": " + restarted);
            assertEquals(200, Http.get(port, "/").status());

            // TERM: a graceful stop, nothing left.
            List<Long> last = pids(status(s.control()), 2);
            s.signal("TERM");
            assertEquals(0, s.awaitExit(STEP), "graceful stop after the upgrades");
            s.awaitLine("^supervisor: stopped$", STEP);
            List<Long> every = new ArrayList<>(workers);
            every.addAll(second);
            every.addAll(last);
            awaitGone(every);
        }
    }

    /**
     * The copy's main jar replaced by garbage: the pre-flight check cannot load the supervisor, so
     * {@code upgrade} exits 1 naming why, the daemon logs that its version keeps running, and the
     * old image serves and answers as before. Repaired (with a newer version), the same supervisor
     * then upgrades: the failed attempt left nothing in the way.
     */
    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void aMainJarOfGarbageFailsTheUpgradeAndTheOldImageServesOn() throws Exception {
        Dist dist = Dist.copy(tmp.resolve("dist"));
        String base = dist.version();
        try (SupervisorProcess s = start(dist).start()) {
            int port = s.port("web");
            s.awaitReady(1);
            List<Long> workers = sorted(s.workerPids(1));
            byte[] good = Files.readAllBytes(dist.mainJar());
            dist.replaceMainJar("this is not a jar\n".getBytes(StandardCharsets.US_ASCII));

            SupervisorProcess.Cli c = failedUpgrade(s, port, base);
            String reason = c.stderr();
            assertTrue(reason.contains("dev.supervisor.Main") || reason.toLowerCase(java.util.Locale.ROOT).contains("jar"),
                    "the reason says what the check of the new installation found (the JVM cannot load dev.supervisor.Main from a "
                            + "garbage jar): " + c);
            assertUnchanged(s, port, base, workers);

            dist.replaceMainJar(good);
            String fixed = base + "+fixed";
            dist.setVersion(fixed);
            SupervisorProcess.Cli ok = upgrade(s);
            assertEquals(0, ok.exit(), "upgrade from the repaired installation: " + ok + s.output().dump());
            assertEquals("upgraded from " + base + " to " + fixed + " (upgrade 1)", ok.stdout().strip(), ok.toString());
            JsonNode st = s.status();
            assertEquals(s.pid(), st.path("pid").asLong(), st.toString());
            assertEquals(fixed, st.path("version").asText(), st.toString());
            assertEquals(1, st.path("upgrades").asInt(), "the failed attempt is no upgrade: " + st);
            assertEquals(workers, pids(st, 1), st.toString());
        }
    }

    /**
     * The copy's native library jar (jffi's stub) replaced by garbage: the CLI, which needs no
     * native code, still runs, and the pre-flight's call through the native binding fails, so
     * {@code upgrade} exits 1 naming the binding and the old image serves on. (Loading the binding
     * alone passed: it yields a stand-in whose calls fail, and the new image died at its first call.)
     */
    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void aNativeLibraryOfGarbageFailsTheUpgradeAndTheOldImageServesOn() throws Exception {
        brokenLibraryFailsTheUpgrade("jffi-.*-native\\.jar", List.of(), "the native binding (jnr-ffi) does not work", s -> { });
    }

    /**
     * With {@code --metrics}, the copy's Prometheus client jar replaced by garbage: the pre-flight
     * loads the metrics server's classes as the new image would, so {@code upgrade} exits 1 and
     * the old image serves its workers and /metrics on.
     */
    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void aMetricsLibraryOfGarbageFailsTheUpgradeAndTheOldImageServesOn() throws Exception {
        brokenLibraryFailsTheUpgrade("prometheus-metrics-model-.*\\.jar", List.of("--metrics", "127.0.0.1:0"),
                "the metrics server (--metrics tcp://127.0.0.1:0) does not load", s -> {
                    Output.Match m = s.awaitLine(0, "^supervisor: metrics http://127\\.0\\.0\\.1:(\\d+)/metrics$", STEP);
                    assertEquals(200, Http.get(Integer.parseInt(m.group(1)), "/ready").status(), "the old image's /metrics serves on");
                });
    }

    /**
     * The supervisor from a copy started with {@code options}; then the copy's lib/ jar matching
     * {@code jar} is replaced by garbage (and the version bumped): {@code upgrade} exits 1 with a
     * reason containing {@code reason}, the old image runs on unchanged, and {@code after} holds.
     */
    private void brokenLibraryFailsTheUpgrade(String jar, List<String> options, String reason, Check after) throws Exception {
        Dist dist = Dist.copy(tmp.resolve("dist"));
        String base = dist.version();
        try (SupervisorProcess s = start(dist).option(options.toArray(String[]::new)).start()) {
            int port = s.port("web");
            s.awaitReady(1);
            List<Long> workers = sorted(s.workerPids(1));
            Dist.replace(dist.lib(jar), "this is not a jar\n".getBytes(StandardCharsets.US_ASCII));
            dist.setVersion(base + "+broken");

            SupervisorProcess.Cli c = failedUpgrade(s, port, base);
            assertTrue(c.stderr().contains(reason), "the reason names what failed: " + c);
            assertUnchanged(s, port, base, workers);
            after.on(s);
        }
    }

    private interface Check {
        void on(SupervisorProcess s) throws Exception;
    }

    /**
     * The supervisor on JDK 25 (the launcher moves HotSpot's suspend signal there too, and the
     * control socket's channels are made with that JDK's internals): one upgrade by
     * {@code supervisor upgrade}, one by SIGUSR2, the same pid and workers, each answering. With
     * class-data sharing on, as shipped: each pre-flight makes the new version's archive, and the
     * last new image maps it.
     */
    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void upgradesOnJdk25KeepThePidAndTheWorkers() throws Exception {
        Dist dist = Dist.copy(tmp.resolve("dist"));
        String base = dist.version();
        Path cds = tmp.resolve("cds");
        try (SupervisorProcess s = start(dist).javaHome(Fixtures.jdk25()).env("SUPERVISOR_CDS", "on").env("SUPERVISOR_CACHE_DIR", cds.toString())
                .start()) {
            int port = s.port("web");
            s.awaitReady(1);
            long pid = s.pid();
            List<Long> workers = sorted(s.workerPids(1));
            dist.setVersion(base + "+j1");
            SupervisorProcess.Cli c = upgrade(s);
            assertEquals(0, c.exit(), "supervisor upgrade on JDK 25: " + c + s.output().dump());
            assertEquals("upgraded from " + base + " to " + base + "+j1 (upgrade 1)", c.stdout().strip(), c.toString());
            dist.setVersion(base + "+j2");
            int before = s.output().size();
            s.signal("USR2");
            s.awaitLine(before, "^supervisor: upgraded from " + Pattern.quote(base + "+j1") + " to " + Pattern.quote(base + "+j2")
                    + " \\(upgrade 2, ", UPGRADE);
            JsonNode st = s.status();
            assertEquals(pid, st.path("pid").asLong(), st.toString());
            assertEquals(base + "+j2", st.path("version").asText(), st.toString());
            assertEquals(workers, pids(st, 1), "the same workers: " + st);
            assertEquals(200, Http.get(port, "/").status());
            List<Path> archives;
            try (Stream<Path> files = Files.list(cds)) {
                archives = files.filter(f -> f.getFileName().toString().endsWith(".jsa")).toList();
            }
            assertEquals(1, archives.size(), "the last pre-flight's archive, the older ones removed: " + archives);
            assertTrue(Files.readString(Path.of("/proc", Long.toString(pid), "maps")).contains(archives.get(0).toString()),
                    "the new image maps the archive its pre-flight made: " + archives.get(0));
        }
    }

    /**
     * A HUP, and in a second upgrade a TERM, sent once the exec is done (every thread of the old
     * image is gone) while the new image's JVM starts and handles no signal yet: neither is lost.
     * The new image reloads after the take-over (generation 2 serves), then stops gracefully with
     * no worker left.
     */
    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void signalsSentWhileTheNewImageStartsAreHandledByIt() throws Exception {
        Dist dist = Dist.copy(tmp.resolve("dist"));
        String base = dist.version();
        try (SupervisorProcess s = start(dist).start()) {
            int port = s.port("web");
            s.awaitReady(1);
            List<Long> first = sorted(s.workerPids(1));

            dist.setVersion(base + "+h1");
            int before = s.output().size();
            Set<Long> oldThreads = threads(s.pid());
            s.signal("USR2");
            awaitExecuted(s.pid(), oldThreads);
            s.signal("HUP");
            int upgraded = s.awaitLine(before, "^supervisor: upgraded from .* \\(upgrade 1, ", UPGRADE).index();
            s.awaitLine(upgraded, "^supervisor: reload requested$", STEP);
            s.awaitLine(upgraded, "^supervisor: generation 2 ready in \\d+ ms.*; draining generation 1$", UPGRADE);
            List<Long> second = sorted(s.workerPids(2));
            assertTrue(second.contains(pid(Http.get(port, "/"))), "generation 2 serves: " + s.output().dump());
            awaitGone(first);

            dist.setVersion(base + "+h2");
            before = s.output().size();
            oldThreads = threads(s.pid());
            s.signal("USR2");
            awaitExecuted(s.pid(), oldThreads);
            s.signal("TERM");
            assertEquals(0, s.awaitExit(UPGRADE), "TERM while the new image started: a graceful stop" + s.output().dump());
            upgraded = s.awaitLine(before, "^supervisor: upgraded from .* \\(upgrade 2, ", STEP).index();
            s.awaitLine(upgraded, "^supervisor: stopped$", STEP);
            awaitGone(second);
        }
    }

    /** The ids of the threads of process {@code pid} but its first (which an exec keeps). */
    private static Set<Long> threads(long pid) throws IOException {
        try (Stream<Path> tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            Set<Long> out = new HashSet<>();
            tasks.map(t -> Long.parseLong(t.getFileName().toString())).filter(t -> t != pid).forEach(out::add);
            return out;
        }
    }

    /** Waits until none of {@code oldThreads} is left: only an exec ends the JVM's own threads while it runs. */
    private static void awaitExecuted(long pid, Set<Long> oldThreads) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + UPGRADE.toNanos();
        while (true) {
            Set<Long> left = new HashSet<>(oldThreads);
            left.retainAll(threads(pid));
            if (left.isEmpty()) {
                return;
            }
            assertTrue(System.nanoTime() < deadline, "process " + pid + " did not exec within " + UPGRADE + ": threads " + left + " remain");
            Thread.sleep(2);
        }
    }

    /**
     * The supervisor started with JAVA_HOME a symlink to the real JDK, then the symlink turned to a
     * JDK whose {@code release} says 11.0.2 (as if the installed Java had been replaced by an
     * older one): the launcher the check runs refuses it (exit 70, "needs Java 17 or newer"), so
     * {@code upgrade} exits 1 naming the Java version, and the old image serves on. The CLI itself
     * runs on the suite's JDK, not through the symlink.
     */
    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void aJavaTooOldFailsTheUpgradeAndTheOldImageServesOn() throws Exception {
        Dist dist = Dist.copy(tmp.resolve("dist"));
        String base = dist.version();
        Path realJdk = Path.of(Optional.ofNullable(System.getProperty("it.supervisor.java.home")).filter(p -> !p.isEmpty())
                .orElse(System.getProperty("java.home"))).toRealPath();
        Path javaHome = tmp.resolve("java-home");
        Files.createSymbolicLink(javaHome, realJdk);
        Path tooOld = fakeJdk(tmp.resolve("jdk-11.0.2"), "11.0.2");
        try (SupervisorProcess s = start(dist).env("JAVA_HOME", javaHome.toString()).start()) {
            int port = s.port("web");
            s.awaitReady(1);
            List<Long> workers = sorted(s.workerPids(1));
            repoint(javaHome, tooOld);

            SupervisorProcess.Cli c = failedUpgrade(s, port, base);
            assertTrue(c.stderr().contains("Java 11.0.2"), "the reason names the Java version the new launcher found: " + c);
            assertUnchanged(s, port, base, workers);
        }
    }

    // --- helpers -------------------------------------------------------------------------------

    /** The supervisor from the copy's launcher, one python worker on 127.0.0.1:0 (more options may follow). */
    private SupervisorProcess.Builder start(Dist dist) {
        return SupervisorProcess.run(ctl).bin(dist.launcher()).env("SUPERVISOR_CDS", "off").listen("web", "127.0.0.1:0").readyNotify()
                .command(Fixtures.worker("http"));
    }

    /** {@code supervisor upgrade} against {@code s}, by the built distribution's CLI, with a deadline for a busy machine. */
    private static SupervisorProcess.Cli upgrade(SupervisorProcess s) {
        return s.cli(UPGRADE.plusSeconds(30), "upgrade", "--control", s.control().toString(), "--timeout", UPGRADE.toSeconds() + "s");
    }

    /**
     * An upgrade that must fail while a load runs: exit 1, "supervisor: upgrade failed: REASON" on
     * stderr, the daemon's "upgrade failed: ...; VERSION keeps running", and no request failed.
     */
    private static SupervisorProcess.Cli failedUpgrade(SupervisorProcess s, int port, String version) throws InterruptedException {
        int mark = s.output().size();
        Load.Running load = Load.against(port, "/").threads(2).requests(10_000_000).deadline(UPGRADE.plusMinutes(1)).start();
        SupervisorProcess.Cli c;
        Load.Result r;
        try {
            c = upgrade(s);
        } finally {
            r = load.stop();
        }
        assertEquals(1, c.exit(), "upgrade from a broken installation: " + c + s.output().dump());
        assertTrue(c.stderr().contains("supervisor: upgrade failed: "), c.toString());
        assertFalse(c.stdout().contains("upgraded"), c.toString());
        // The reason may run over lines (what the check printed); the daemon's line ends with who keeps running.
        Output.Match failed = s.awaitLine(mark, "^supervisor: upgrade failed: ", STEP);
        s.awaitLine(failed.index(), "; " + Pattern.quote(version) + " keeps running$", STEP);
        assertEquals(0, r.failed(), "requests failed during the failed upgrade: " + r);
        assertTrue(r.answered() > 0, r.toString());
        return c;
    }

    /** The old image, as it was: same pid, version, workers, no upgrade counted; it answers and serves. */
    private static void assertUnchanged(SupervisorProcess s, int port, String version, List<Long> workers) throws IOException {
        JsonNode st = s.status();
        assertEquals(s.pid(), st.path("pid").asLong(), st.toString());
        assertEquals(version, st.path("version").asText(), "the old image answers: " + st);
        assertEquals(0, st.path("upgrades").asInt(), st.toString());
        assertEquals(1, st.path("serving").asInt(), st.toString());
        assertEquals(workers, pids(st, 1), "the workers are untouched: " + st);
        assertTrue(workers.contains(pid(Http.get(port, "/"))), "the old workers serve");
        assertTrue(s.handle().isAlive());
    }

    /** A directory that looks like a JDK of {@code version} to the launcher (bin/java and release), and runs nothing. */
    private static Path fakeJdk(Path dir, String version) throws IOException {
        Files.createDirectories(dir.resolve("bin"));
        Path java = dir.resolve("bin/java");
        // A regular file, not a link: the launcher resolves bin/java with readlink -f and reads the release file beside it.
        Files.writeString(java, "#!/bin/sh\necho \"$0: a fake Java " + version + " for UpgradeIT, never to be run\" >&2\nexit 1\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(dir.resolve("release"), "IMPLEMENTOR=\"UpgradeIT\"\nJAVA_VERSION=\"" + version + "\"\n");
        return dir;
    }

    /** Points symlink {@code link} at {@code target} at once: a new link renamed over the old one. */
    private static void repoint(Path link, Path target) throws IOException {
        Path next = link.resolveSibling("." + link.getFileName() + ".next");
        Files.deleteIfExists(next);
        Files.createSymbolicLink(next, target);
        Files.move(next, link, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static long pid(Http.Response r) {
        assertEquals(200, r.status(), r.toString());
        try {
            return JSON.readTree(r.body()).path("pid").asLong();
        } catch (IOException e) {
            throw new AssertionError("not the fixture's JSON: " + r, e);
        }
    }

    private static List<Long> sorted(List<Long> pids) {
        List<Long> out = new ArrayList<>(pids);
        Collections.sort(out);
        return out;
    }

    /** The pids of generation {@code generation}'s workers in a status, sorted. */
    private static List<Long> pids(JsonNode status, int generation) {
        List<Long> out = new ArrayList<>();
        for (JsonNode g : status.path("generations")) {
            if (g.path("generation").asInt() == generation) {
                g.path("workers").forEach(w -> out.add(w.path("pid").asLong()));
            }
        }
        return sorted(out);
    }

    private static int slot(JsonNode status, int generation, long pid) {
        for (JsonNode g : status.path("generations")) {
            for (JsonNode w : g.path("workers")) {
                if (g.path("generation").asInt() == generation && w.path("pid").asLong() == pid) {
                    return w.path("worker").asInt();
                }
            }
        }
        throw new AssertionError("no worker " + generation + ".* with pid " + pid + " in " + status);
    }

    private static long pidOf(JsonNode status, int generation, int slot) {
        for (JsonNode g : status.path("generations")) {
            for (JsonNode w : g.path("workers")) {
                if (g.path("generation").asInt() == generation && w.path("worker").asInt() == slot) {
                    return w.path("pid").asLong();
                }
            }
        }
        throw new AssertionError("no worker " + generation + "." + slot + " in " + status);
    }

    /** The supervisor's stderr lines from index {@code from} of its output on. */
    private static List<String> lines(SupervisorProcess s, int from) {
        List<Output.Line> all = s.output().lines();
        List<String> out = new ArrayList<>();
        for (Output.Line l : all.subList(Math.min(from, all.size()), all.size())) {
            if (l.stream() == Output.Stream.STDERR) {
                out.add(l.text());
            }
        }
        return out;
    }

    /** Alive and not a zombie. */
    private static boolean alive(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return !stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
        } catch (IOException e) {
            return false;
        }
    }

    /** Waits for each process to exit (the JDK's exit notification), with one deadline for all. */
    private static void awaitGone(List<Long> pids) throws InterruptedException {
        long deadline = System.nanoTime() + STEP.toNanos();
        for (long pid : pids) {
            Optional<ProcessHandle> h = ProcessHandle.of(pid);
            if (h.isPresent() && alive(pid)) {
                long left = Math.max(1, deadline - System.nanoTime());
                try {
                    h.get().onExit().get(left, TimeUnit.NANOSECONDS);
                } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                    // a zombie counts as gone: it runs nothing and holds no socket
                    if (alive(pid)) {
                        fail("pid " + pid + " still runs " + STEP.toMillis() + " ms on (of " + pids + ")");
                    }
                }
            }
        }
    }

    // --- the control socket, raw: one request, one answer line, with a deadline -------------------

    /** The {@code status} object over the control socket (no CLI JVM start), within {@link #STEP}. */
    static JsonNode status(Path control) throws IOException {
        return status(control, STEP);
    }

    static JsonNode status(Path control, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX); Selector sel = Selector.open()) {
            ch.connect(UnixDomainSocketAddress.of(control)); // queued in the backlog even while no image accepts
            ch.write(ByteBuffer.wrap("{\"v\":1,\"cmd\":\"status\"}\n".getBytes(StandardCharsets.UTF_8)));
            ch.configureBlocking(false);
            ch.register(sel, SelectionKey.OP_READ);
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
            while (true) {
                buf.clear();
                int n = ch.read(buf);
                if (n < 0) {
                    throw new EOFException("the control socket closed without an answer (had: '" + line + "')");
                }
                for (int i = 0; i < n; i++) {
                    byte b = buf.get(i);
                    if (b == '\n') {
                        JsonNode answer = JSON.readTree(line.toByteArray());
                        if (!answer.path("ok").asBoolean()) {
                            throw new IOException("status refused: " + answer);
                        }
                        return answer.path("status");
                    }
                    line.write(b);
                }
                if (line.size() > 8 << 20) {
                    throw new IOException("a status answer longer than 8 MiB");
                }
                if (n == 0) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw new SocketTimeoutException("no status answer within " + timeout.toMillis() + " ms");
                    }
                    sel.select(Math.max(1, left / 1_000_000));
                    sel.selectedKeys().clear();
                }
            }
        }
    }

    /**
     * Asks {@code status} over the control socket again and again (one at a time, 20 ms apart) for
     * as long as the upgrades run, and keeps the longest round trip: how long the control socket
     * goes unanswered during an upgrade. Every request must get its answer. Tests wait on it for
     * a status that satisfies a condition.
     */
    static final class StatusProbe implements AutoCloseable {
        /** How many requests at most, and for how long: a bound, whatever the test does. */
        private static final int MAX_REQUESTS = 200_000;
        private static final Duration MAX_TIME = Duration.ofMinutes(20);

        record Result(int answers, long longestMs, List<String> failures) {
            @Override
            public String toString() {
                return answers + " answers, longest round trip " + longestMs + " ms" + (failures.isEmpty() ? "" : ", failures " + failures);
            }
        }

        private final Path control;
        private final Thread thread;
        private final List<String> failures = new ArrayList<>();
        private boolean stopped;
        private JsonNode latest;
        private int answers;
        private long longestMs;

        private StatusProbe(Path control) {
            this.control = control;
            this.thread = new Thread(this::loop, "status-probe");
            thread.setDaemon(true);
        }

        static StatusProbe start(Path control) {
            StatusProbe p = new StatusProbe(control);
            p.thread.start();
            return p;
        }

        private void loop() {
            long end = System.nanoTime() + MAX_TIME.toNanos();
            for (int n = 0; n < MAX_REQUESTS && System.nanoTime() - end < 0; n++) {
                long t0 = System.nanoTime();
                JsonNode st = null;
                String failure = null;
                try {
                    st = status(control, UPGRADE);
                } catch (IOException | RuntimeException e) {
                    failure = e.toString();
                }
                long ms = (System.nanoTime() - t0) / 1_000_000;
                synchronized (this) {
                    if (st != null) {
                        latest = st;
                        answers++;
                    } else if (failures.size() < 20) {
                        failures.add(failure);
                    }
                    longestMs = Math.max(longestMs, ms);
                    notifyAll();
                    try {
                        if (!stopped) {
                            wait(20); // pacing, not waiting for an event: stop() wakes it at once
                        }
                    } catch (InterruptedException e) {
                        return;
                    }
                    if (stopped) {
                        return;
                    }
                }
            }
        }

        /** Waits until a status answer satisfies {@code until}; fails at the deadline, showing the last one and the log. */
        synchronized JsonNode await(Predicate<JsonNode> until, Duration timeout, String what, SupervisorProcess s)
                throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (latest == null || !until.test(latest)) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || !thread.isAlive()) {
                    fail("no " + what + " within " + timeout.toMillis() + " ms; last status " + latest + s.output().dump());
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
            return latest;
        }

        Result stop() throws InterruptedException {
            synchronized (this) {
                stopped = true;
                notifyAll();
            }
            thread.join(UPGRADE.toMillis());
            if (thread.isAlive()) {
                fail("the status probe is still waiting for an answer after " + UPGRADE.toMillis() + " ms");
            }
            synchronized (this) {
                return new Result(answers, longestMs, List.copyOf(failures));
            }
        }

        @Override
        public void close() throws InterruptedException {
            synchronized (this) {
                stopped = true;
                notifyAll();
            }
        }
    }

    // --- a copy of the distribution, changed as a package upgrade would --------------------------

    /** A copy of the built distribution (the exploded one), which the test changes as installing a newer package would. */
    static final class Dist {
        private static final Pattern MAIN_JAR = Pattern.compile("supervisor-\\d.*\\.jar");
        private final Path home;

        private Dist(Path home) {
            this.home = home;
        }

        /** Copies the built distribution to {@code to}: files with their modes, symlinks as symlinks. */
        static Dist copy(Path to) throws IOException {
            Path from = Fixtures.supervisorHome();
            try (Stream<Path> all = Files.walk(from)) {
                for (Path p : (Iterable<Path>) all::iterator) {
                    Path q = to.resolve(from.relativize(p).toString());
                    if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                        Files.createDirectories(q);
                    } else {
                        Files.copy(p, q, StandardCopyOption.COPY_ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
                    }
                }
            }
            return new Dist(to);
        }

        Path launcher() {
            return home.resolve("bin/supervisor");
        }

        Path mainJar() throws IOException {
            return mainJar(home);
        }

        /** lib/supervisor-VERSION.jar (the daemon and CLI; not supervisor-protocol-*.jar). */
        static Path mainJar(Path distribution) throws IOException {
            try (Stream<Path> jars = Files.list(distribution.resolve("lib"))) {
                List<Path> found = jars.filter(p -> MAIN_JAR.matcher(p.getFileName().toString()).matches()).toList();
                if (found.size() != 1) {
                    fail("expected one supervisor-VERSION.jar in " + distribution.resolve("lib") + ", found " + found);
                }
                return found.get(0);
            }
        }

        /** The Implementation-Version of the copy's supervisor jar: what status calls "version". */
        String version() throws IOException {
            return version(mainJar());
        }

        static String version(Path jar) throws IOException {
            try (ZipFile zip = new ZipFile(jar.toFile())) {
                ZipEntry mf = zip.getEntry("META-INF/MANIFEST.MF");
                if (mf == null) {
                    fail(jar + " has no manifest");
                }
                try (InputStream in = zip.getInputStream(mf)) {
                    String v = new Manifest(in).getMainAttributes().getValue(Attributes.Name.IMPLEMENTATION_VERSION);
                    if (v == null) {
                        fail(jar + " has no Implementation-Version");
                    }
                    return v;
                }
            }
        }

        /**
         * The supervisor jar with {@code version} as its Implementation-Version, every other entry
         * as it was: written beside it under a name no {@code lib/*} class path takes, then renamed
         * over it, as dpkg does. The running JVM keeps the old file open, and reads it unchanged.
         */
        void setVersion(String version) throws IOException {
            Path jar = mainJar();
            Path next = jar.resolveSibling("." + jar.getFileName() + ".next");
            try (ZipFile in = new ZipFile(jar.toFile()); OutputStream file = Files.newOutputStream(next);
                    ZipOutputStream out = new ZipOutputStream(file)) {
                boolean found = false;
                for (Enumeration<? extends ZipEntry> es = in.entries(); es.hasMoreElements(); ) {
                    ZipEntry e = es.nextElement();
                    ZipEntry copy = new ZipEntry(e.getName());
                    copy.setTime(e.getTime());
                    out.putNextEntry(copy);
                    try (InputStream is = in.getInputStream(e)) {
                        if (e.getName().equals("META-INF/MANIFEST.MF")) {
                            Manifest m = new Manifest(is);
                            m.getMainAttributes().put(Attributes.Name.IMPLEMENTATION_VERSION, version);
                            m.write(out);
                            found = true;
                        } else {
                            is.transferTo(out);
                        }
                    }
                    out.closeEntry();
                }
                if (!found) {
                    fail(jar + " has no META-INF/MANIFEST.MF");
                }
            }
            Files.move(next, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }

        /** The supervisor jar's bytes replaced, by rename. */
        void replaceMainJar(byte[] content) throws IOException {
            replace(mainJar(), content);
        }

        /** The one jar in lib/ whose name matches {@code regex}. */
        Path lib(String regex) throws IOException {
            try (Stream<Path> jars = Files.list(home.resolve("lib"))) {
                return jars.filter(p -> p.getFileName().toString().matches(regex)).findFirst()
                        .orElseThrow(() -> new AssertionError("no " + regex + " in " + home.resolve("lib")));
            }
        }

        /** {@code jar}'s content replaced by rename, as a package manager does. */
        static void replace(Path jar, byte[] content) throws IOException {
            Path next = jar.resolveSibling("." + jar.getFileName() + ".next");
            Files.write(next, content);
            Files.move(next, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
    }
}
