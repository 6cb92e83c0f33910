package dev.supervisor.it.packaging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code packaging/} builds, used as a user would: the tarball extracted somewhere else and
 * run from yet another directory and through a symlink; the launcher's answers when Java is missing
 * or too old; its class-data sharing archive; the systemd units checked by systemd-analyze; the
 * .deb's metadata and layout, and its launcher run from an extracted copy. Self-contained: it
 * shares no harness with the other integration tests.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class PackagingIT {
    private static final Duration QUICK = Duration.ofSeconds(60);
    /** Tools the launcher may need, linked into a PATH that has no java. */
    private static final List<String> TOOLS = List.of("readlink", "dirname", "cat", "stat", "cksum", "find", "mkdir", "rmdir",
            "mv", "rm", "nice", "sed", "grep", "sort", "env", "sleep", "sh");

    private static Path dist;
    private static Path target;
    private static Path tarball;
    private static Path deb;
    private static String version;

    @TempDir
    Path tmp;

    @BeforeAll
    static void artifacts() throws IOException {
        dist = Path.of(System.getProperty("supervisor.home", "../packaging/target/supervisor")).toAbsolutePath().normalize();
        target = dist.getParent();
        tarball = only(target, "supervisor-*.tar.gz");
        deb = only(target, "*.deb");
        String name = tarball.getFileName().toString();
        version = name.substring("supervisor-".length(), name.length() - ".tar.gz".length());
    }

    // --- the tarball -------------------------------------------------------------------------

    @Test
    void tarballLauncherRunsFromAnotherDirectoryAndThroughASymlink() throws Exception {
        Path top = extractTarball();
        assertTrue(Files.isExecutable(top.resolve("bin/supervisor")), "bin/supervisor is executable");
        for (String part : List.of("lib/supervisor.classlist", "systemd/supervisor@.service", "systemd/supervisor@.socket",
                "share/man/man1/supervisor.1socket", "share/bash-completion/completions/supervisor", "share/doc/supervisor/README.md",
                "share/doc/supervisor/DESIGN.md")) {
            assertTrue(Files.isRegularFile(top.resolve(part)), part + " is in the tarball");
        }
        Path elsewhere = Files.createDirectories(tmp.resolve("elsewhere"));
        Map<String, String> env = Map.of("SUPERVISOR_CDS", "off"); // firstRunMakesAnArchive... is about that

        Result direct = run(elsewhere, env, top.resolve("bin/supervisor").toString(), "--version");
        assertEquals(0, direct.code, "--version from another directory" + direct);
        assertTrue(direct.out.startsWith("supervisor " + version + " (Java "), "prints the version: " + direct);
        assertEquals("", direct.err, "nothing on stderr" + direct);

        // as /usr/bin/supervisor -> ../share/supervisor/bin/supervisor: a relative link, then another
        Path links = Files.createDirectories(tmp.resolve("usr/bin"));
        Path link = links.resolve("supervisor");
        Files.createSymbolicLink(link, links.relativize(top.resolve("bin/supervisor")));
        Path second = Files.createSymbolicLink(tmp.resolve("sv"), link);
        for (Path via : List.of(link, second)) {
            Result r = run(elsewhere, env, via.toString(), "--version");
            assertEquals(0, r.code, "--version through " + via + r);
            assertTrue(r.out.startsWith("supervisor " + version), "prints the version" + r);
        }
        Result relative = run(top, env, "bin/supervisor", "--version");
        assertEquals(0, relative.code, "--version as bin/supervisor" + relative);

        Result status = run(elsewhere, env, link.toString(), "status", "--control", tmp.resolve("none.sock").toString());
        assertEquals(2, status.code, "status with no supervisor" + status);
        assertTrue(status.err.contains("no supervisor answers at " + tmp.resolve("none.sock")), "names the socket" + status);
        assertEquals("", status.out, "nothing on stdout" + status);
    }

    @Test
    void tarballRunsOnJdk25WithItsOwnArchive() throws Exception {
        Path top = extractTarball();
        Path cache = tmp.resolve("cache");
        Map<String, String> env = new HashMap<>();
        env.put("JAVA_HOME", jdk25().toString());
        env.put("SUPERVISOR_CACHE_DIR", cache.toString());
        Result first = run(tmp, env, top.resolve("bin/supervisor").toString(), "--version");
        assertEquals(0, first.code, "--version on JDK 25" + first);
        assertTrue(first.out.startsWith("supervisor " + version + " (Java 25"), "runs on Java 25: " + first);
        assertEquals("", first.err, "no JVM warning (restricted methods, CDS) on stderr" + first);

        Path archive = awaitArchive(cache, Duration.ofSeconds(150));
        awaitNoLock(cache);
        assertTrue(archive.getFileName().toString().startsWith("java25-"), "an archive for JDK 25: " + archive);
        // JDK 25 prints an error for an archive that does not match its JVM or jars: none here
        Result second = run(tmp, env, top.resolve("bin/supervisor").toString(), "status", "--control", tmp.resolve("none.sock").toString());
        assertEquals(2, second.code, "status with no supervisor, with the archive" + second);
        assertTrue(second.err.startsWith("supervisor: no supervisor answers at " + tmp.resolve("none.sock")), "the answer" + second);
        assertEquals(1, second.err.lines().count(), "and nothing else on stderr" + second);
    }

    // --- the launcher's Java checks ------------------------------------------------------------

    @Test
    void noJavaInJavaHomeAndNoneOnPathExits70() throws Exception {
        Path noJdk = Files.createDirectories(tmp.resolve("no-jdk"));
        Map<String, String> env = javaLessEnv();
        env.put("JAVA_HOME", noJdk.toString());
        Result r = run(tmp, env, dist.resolve("bin/supervisor").toString(), "--version");
        assertEquals(70, r.code, "exit code" + r);
        assertTrue(r.err.startsWith("supervisor: JAVA_HOME is '" + noJdk + "', but there is no executable " + noJdk + "/bin/java"),
                "names JAVA_HOME and the missing java" + r);
        assertTrue(r.err.contains("Java 17 or newer"), "says what is needed" + r);
        assertEquals("", r.out, "nothing on stdout" + r);
        assertEquals(1, r.err.strip().lines().count(), "one line" + r);
    }

    @Test
    void noJavaHomeAndNoJavaOnPathExits70() throws Exception {
        Map<String, String> env = javaLessEnv();
        Result r = run(tmp, env, dist.resolve("bin/supervisor").toString(), "--version");
        assertEquals(70, r.code, "exit code" + r);
        assertTrue(r.err.startsWith("supervisor: no Java runtime found: JAVA_HOME is not set and there is no java on PATH"),
                "says where it looked" + r);
        assertTrue(r.err.contains("apt-get install default-jre-headless"), "says how to get one" + r);
    }

    @Test
    void javaHomeWhoseReleaseSaysJava11Exits70WithoutStartingIt() throws Exception {
        Path jdk11 = tmp.resolve("jdk-11");
        Path marker = tmp.resolve("java-was-started");
        fakeJava(jdk11.resolve("bin/java"), "touch '" + marker + "'; exit 99");
        Files.writeString(jdk11.resolve("release"), "IMPLEMENTOR=\"Eclipse Adoptium\"\nJAVA_VERSION=\"11.0.2\"\nJAVA_VERSION_DATE=\"2019-01-15\"\n");
        Map<String, String> env = javaLessEnv();
        env.put("JAVA_HOME", jdk11.toString());
        Result r = run(tmp, env, dist.resolve("bin/supervisor").toString(), "--version");
        assertEquals(70, r.code, "exit code" + r);
        assertTrue(r.err.startsWith("supervisor: " + jdk11.resolve("bin/java") + " is Java 11.0.2, and supervisor needs Java 17 or newer"),
                "names the java, its version and the need" + r);
        assertFalse(Files.exists(marker), "the release file answered: no JVM was started");
    }

    @Test
    void javaOnPathWhoseBannerSaysJava11Exits70() throws Exception {
        Path bin = tmp.resolve("old/bin");
        fakeJava(bin.resolve("java"), "echo 'openjdk version \"11.0.2\" 2019-01-15' >&2\n"
                + "echo 'OpenJDK Runtime Environment 18.9 (build 11.0.2+9)' >&2\n"
                + "echo 'OpenJDK 64-Bit Server VM 18.9 (build 11.0.2+9, mixed mode)' >&2");
        Map<String, String> env = javaLessEnv();
        env.put("PATH", bin + ":" + env.get("PATH"));
        Result r = run(tmp, env, dist.resolve("bin/supervisor").toString(), "--version");
        assertEquals(70, r.code, "exit code" + r);
        assertTrue(r.err.startsWith("supervisor: " + bin.resolve("java") + " is Java 11.0.2, and supervisor needs Java 17 or newer"),
                "names the java, its version and the need" + r);
    }

    @Test
    void javaOnPathWhoseBannerSaysJava8Exits70() throws Exception {
        Path bin = tmp.resolve("old/bin");
        fakeJava(bin.resolve("java"), "echo 'java version \"1.8.0_392\"' >&2");
        Map<String, String> env = javaLessEnv();
        env.put("PATH", bin + ":" + env.get("PATH"));
        Result r = run(tmp, env, dist.resolve("bin/supervisor").toString(), "--version");
        assertEquals(70, r.code, "exit code" + r);
        assertTrue(r.err.contains("is Java 1.8.0_392, and supervisor needs Java 17 or newer"), "Java 8 is older than 17" + r);
    }

    // --- class-data sharing ----------------------------------------------------------------------

    @Test
    void firstRunMakesAnArchiveInTheBackgroundThatTheNextDaemonMaps() throws Exception {
        Path cache = tmp.resolve("cache");
        Map<String, String> env = Map.of("SUPERVISOR_CACHE_DIR", cache.toString());
        Result first = run(tmp, env, dist.resolve("bin/supervisor").toString(), "--version");
        assertEquals(0, first.code, "first run" + first);
        assertTrue(first.out.startsWith("supervisor " + version) && first.out.strip().lines().count() == 1, "only the version" + first);
        assertEquals("", first.err, "the archive is made silently" + first);

        Path archive = awaitArchive(cache, Duration.ofSeconds(150)); // a nice(1)d dump: slow on a busy machine
        awaitNoLock(cache);
        assertTrue(PosixFilePermissions.toString(Files.getPosixFilePermissions(archive)).endsWith("------"),
                "the archive is private to the user: " + Files.getPosixFilePermissions(archive));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(cache)), "cache directory is private");

        Path control = Files.createDirectories(tmp.resolve("ctl"));
        Files.setPosixFilePermissions(control, PosixFilePermissions.fromString("rwx------"));
        ProcessBuilder pb = new ProcessBuilder(dist.resolve("bin/supervisor").toString(), "run", "--control",
                control.resolve("control.sock").toString(), "-l", "a=127.0.0.1:0", "--", "sleep", "1000");
        pb.environment().putAll(env);
        pb.redirectErrorStream(true).redirectOutput(tmp.resolve("daemon.log").toFile());
        Process daemon = pb.start();
        try {
            // wait until the daemon answers, then read what its JVM has mapped
            Result status = null;
            long deadline = System.nanoTime() + QUICK.toNanos();
            while (System.nanoTime() < deadline) {
                status = run(tmp, env, dist.resolve("bin/supervisor").toString(), "status", "--control",
                        control.resolve("control.sock").toString());
                if (status.code == 0 || !daemon.isAlive()) {
                    break;
                }
            }
            assertTrue(status != null && status.code == 0, "the daemon answers status" + status + "\n" + Files.readString(tmp.resolve("daemon.log")));
            String maps = Files.readString(Path.of("/proc", Long.toString(daemon.pid()), "maps"));
            assertTrue(maps.contains(archive.toString()), "the daemon's JVM maps " + archive);
        } finally {
            daemon.destroy();
            assertTrue(daemon.waitFor(30, TimeUnit.SECONDS), "the daemon stops on TERM");
        }
        // Beside it, the launcher keeps the archive's key (.key-javaN), so that a start need not compute it again.
        Path marker = cache.resolve(".key-" + archive.getFileName().toString().split("-")[0]);
        try (Stream<Path> files = Files.list(cache)) {
            List<Path> left = files.sorted().collect(Collectors.toList());
            assertEquals(List.of(marker, archive), left, "one archive and its key, no temporary file or lock left");
        }
    }

    /**
     * An upgrade's pre-flight check (SUPERVISOR_UPGRADE_CHECK) has the archive made before its JVM
     * starts, in the foreground, or waits for the dump another run holds the lock for: the new
     * image that follows the check starts with the archive.
     */
    @Test
    void anUpgradesCheckHasTheArchiveMadeBeforeItRuns() throws Exception {
        Path cache = tmp.resolve("cache");
        String launcher = dist.resolve("bin/supervisor").toString();
        Map<String, String> check = Map.of("SUPERVISOR_CACHE_DIR", cache.toString(), "SUPERVISOR_CDS", "on", "SUPERVISOR_UPGRADE_CHECK", "1");

        Result first = run(tmp, check, launcher, "--version");
        assertEquals(0, first.code, "check run" + first);
        List<Path> made;
        try (Stream<Path> files = Files.list(cache)) {
            made = files.filter(f -> !f.getFileName().toString().startsWith(".key-")).collect(Collectors.toList());
        }
        assertEquals(1, made.size(), "when the check run returns, the archive is there, and no lock or temporary file: " + made);
        Path archive = made.get(0);
        assertTrue(archive.getFileName().toString().endsWith(".jsa"), made.toString());

        // Another run holds the lock of this archive's dump: the check waits for it, and makes none itself.
        Path aside = Files.move(archive, tmp.resolve("aside.jsa"));
        Path lock = Files.createDirectory(cache.resolve("." + archive.getFileName().toString().replace(".jsa", ".lock")));
        ProcessBuilder pb = new ProcessBuilder(launcher, "--version").redirectErrorStream(true).redirectOutput(tmp.resolve("check.out").toFile());
        for (String v : List.of("JDK_JAVA_OPTIONS", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "SUPERVISOR_JAVA_OPTS")) {
            pb.environment().remove(v);
        }
        pb.environment().putAll(check);
        Process waiting = pb.start();
        try {
            assertFalse(waiting.waitFor(1, TimeUnit.SECONDS), "the check waits while the lock is held and there is no archive");
            Files.move(aside, archive);
            Files.delete(lock);
            assertTrue(waiting.waitFor(QUICK.toSeconds(), TimeUnit.SECONDS), "the check goes on once the archive is there");
        } finally {
            waiting.destroyForcibly();
        }
        assertEquals(0, waiting.exitValue(), Files.readString(tmp.resolve("check.out")));
        try (Stream<Path> files = Files.list(cache)) {
            assertEquals(List.of(archive), files.filter(f -> !f.getFileName().toString().startsWith(".key-")).collect(Collectors.toList()),
                    "the other run's archive, and nothing the check made");
        }
    }

    /**
     * The archive's key is kept between starts, and must not outlive what it was made from: a jar
     * replaced by rename with an older time (as dpkg unpacks a package: its files keep their build
     * times), or overwritten in place with one, gets a new key at the next start.
     */
    @Test
    void aJarReplacedWithAnOlderTimeGetsANewArchiveKey() throws Exception {
        Path copy = tmp.resolve("dist");
        assertEquals(0, run(tmp, Map.of(), "cp", "-a", dist.toString(), copy.toString()).code, "copy of the distribution");
        Path cache = tmp.resolve("cache");
        Map<String, String> env = Map.of("SUPERVISOR_CACHE_DIR", cache.toString(), "SUPERVISOR_CDS", "on");
        String launcher = copy.resolve("bin/supervisor").toString();
        assertEquals(0, run(tmp, env, launcher, "--version").code);
        assertEquals(0, run(tmp, env, launcher, "--version").code); // the cache directory exists now: the key is kept
        Path marker;
        try (Stream<Path> files = Files.list(cache)) {
            marker = files.filter(f -> f.getFileName().toString().startsWith(".key-java")).findFirst()
                    .orElseThrow(() -> new AssertionError("no kept key in " + cache));
        }
        String before = Files.readAllLines(marker).get(0);
        assertEquals(0, run(tmp, env, launcher, "--version").code);
        assertEquals(before, Files.readAllLines(marker).get(0), "nothing changed: the same key");

        Path jar;
        try (Stream<Path> jars = Files.list(copy.resolve("lib"))) {
            jar = jars.filter(f -> f.getFileName().toString().startsWith("picocli")).findFirst().orElseThrow();
        }
        Path next = copy.resolve("lib/.picocli.next");
        Files.copy(jar, next);
        Files.setLastModifiedTime(next, java.nio.file.attribute.FileTime.fromMillis(946_684_800_000L)); // 2000-01-01
        Files.move(next, jar, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        assertEquals(0, run(tmp, env, launcher, "--version").code);
        String renamed = Files.readAllLines(marker).get(0);
        assertNotEquals(before, renamed, "a replaced jar is a new key");

        // Overwritten in place with an older time (cp -p, rsync --inplace -t): the directory does not change.
        Files.write(jar, Files.readAllBytes(jar), java.nio.file.StandardOpenOption.APPEND);
        Files.setLastModifiedTime(jar, java.nio.file.attribute.FileTime.fromMillis(915_148_800_000L)); // 1999-01-01
        assertEquals(0, run(tmp, env, launcher, "--version").code);
        assertNotEquals(renamed, Files.readAllLines(marker).get(0), "a jar overwritten in place is a new key");
    }

    @Test
    void aJdkThatCannotMakeAnArchiveIsAskedOnceNotOnEveryStart() throws Exception {
        Path jdk = tmp.resolve("jdk-17-nodump");
        Path dumps = tmp.resolve("dumps");
        fakeJava(jdk.resolve("bin/java"), "for a; do case $a in -Xshare:dump) echo dump >>'" + dumps + "'; echo 'no CDS here' >&2; exit 1 ;; esac; done\n"
                + "echo 'fake java ran'");
        Files.writeString(jdk.resolve("release"), "JAVA_VERSION=\"17.0.99\"\n");
        Path cache = tmp.resolve("cache");
        Map<String, String> env = Map.of("JAVA_HOME", jdk.toString(), "SUPERVISOR_CACHE_DIR", cache.toString());
        Result first = run(tmp, env, dist.resolve("bin/supervisor").toString(), "--version");
        assertEquals("fake java ran\n", first.out, "the run itself goes on" + first);
        Path failed = awaitFile(cache, ".jsa.failed", Duration.ofSeconds(30));
        assertEquals("no CDS here\n", Files.readString(failed), "the failed dump's output is kept for whoever wonders");
        Result second = run(tmp, env, dist.resolve("bin/supervisor").toString(), "--version");
        assertEquals(0, second.code, "second run" + second);
        assertEquals(List.of("dump"), Files.readAllLines(dumps), "no second attempt");
        awaitNoLock(cache);
    }

    @Test
    void unwritableCacheMeansNoArchiveAndNoComplaint() throws Exception {
        Map<String, String> env = Map.of("SUPERVISOR_CACHE_DIR", "/proc/no-such-dir/supervisor");
        Result r = run(tmp, env, dist.resolve("bin/supervisor").toString(), "--version");
        assertEquals(0, r.code, "runs" + r);
        assertEquals("", r.err, "silently without an archive" + r);
    }

    // --- systemd units ---------------------------------------------------------------------------

    @Test
    void unitsSayWhatTheContractNeeds() throws IOException {
        Map<String, String> service = unit(dist.resolve("systemd/supervisor@.service"));
        Map<String, String> socket = unit(dist.resolve("systemd/supervisor@.socket"));
        assertEquals("notify", service.get("Type"));
        assertEquals("main", service.get("NotifyAccess"), "only the supervisor's main pid speaks for the unit");
        assertEquals("mixed", service.get("KillMode"));
        assertEquals("on-failure", service.get("Restart"));
        assertTrue(service.get("ExecStart").startsWith("/usr/bin/supervisor run --config /etc/supervisor/%i.json --control "),
                service.get("ExecStart"));
        String control = service.get("ExecStart").replaceAll(".* --control (\\S+).*", "$1");
        assertEquals("/usr/bin/supervisor reload --control " + control, service.get("ExecReload"), "reload talks to the same socket");
        assertTrue(control.startsWith("%t/" + service.get("RuntimeDirectory") + "/"), "the control socket is in RuntimeDirectory: " + control);
        assertTrue(seconds(service.get("TimeoutStopSec")) > 30, "TimeoutStopSec above the default drain timeout (30s)");
        assertTrue(seconds(service.get("TimeoutStartSec")) > 60, "TimeoutStartSec above the default ready timeout (60s)");
        assertEquals("80", socket.get("ListenStream"));
        assertEquals("http", socket.get("FileDescriptorName"));
        String example = Files.readString(dist.resolve("share/doc/supervisor/examples/web.json"));
        assertTrue(example.contains("\"http=:80\""), "the example config names the socket unit's listener");
    }

    @Test
    void systemdAnalyzeVerifyAcceptsTheUnits() throws Exception {
        Path analyze = Stream.of("/usr/bin/systemd-analyze", "/bin/systemd-analyze").map(Path::of).filter(Files::isExecutable)
                .findFirst().orElse(null);
        if (analyze == null) {
            // Not on this machine: unitsSayWhatTheContractNeeds() has checked what can be checked without it.
            System.err.println("PackagingIT: systemd-analyze is not installed; the units were checked by reading them only");
            return;
        }
        // The units name /usr/bin/supervisor, which exists once the .deb is installed; here they run
        // the tarball's launcher, and man:supervisor(1) is found in the distribution.
        Path units = Files.createDirectories(tmp.resolve("units"));
        for (String name : List.of("supervisor@.service", "supervisor@.socket")) {
            String text = Files.readString(dist.resolve("systemd").resolve(name))
                    .replace("/usr/bin/supervisor", dist.resolve("bin/supervisor").toString());
            Files.writeString(units.resolve(name), text);
        }
        Map<String, String> env = new HashMap<>();
        env.put("MANPATH", dist.resolve("share/man") + ":");
        env.put("SYSTEMD_LOG_COLOR", "0");
        Result r = run(units, env, analyze.toString(), "verify", units.resolve("supervisor@.service").toString(),
                units.resolve("supervisor@.socket").toString());
        assertEquals(0, r.code, "systemd-analyze verify" + r);
        assertEquals("", (r.out + r.err).strip(), "no warning (an unknown key is only a warning)" + r);
    }

    @Test
    void bashCompletionCompletesTheSubcommands() throws Exception {
        Path script = dist.resolve("share/bash-completion/completions/supervisor");
        Result r = run(tmp, Map.of(), "bash", "-c", "source '" + script + "' && complete -p supervisor"
                + " && COMP_WORDS=(supervisor st) && COMP_CWORD=1 && COMP_LINE='supervisor st' && COMP_POINT=13"
                + " && _complete_supervisor supervisor st supervisor >/dev/null 2>&1; printf '%s\\n' \"${COMPREPLY[@]}\"");
        assertEquals(0, r.code, "the completion script loads" + r);
        assertTrue(r.out.contains("complete") && r.out.contains("supervisor"), "registers a completion for supervisor" + r);
        assertTrue(r.out.lines().anyMatch(l -> l.equals("status")) && r.out.lines().anyMatch(l -> l.equals("stop")),
                "'supervisor st' completes to status and stop" + r);
    }

    @Test
    void bashCompletionOffersTheReadyModesAndSignals() throws Exception {
        Path script = dist.resolve("share/bash-completion/completions/supervisor");
        for (String[] c : new String[][] {{"--ready", "notify"}, {"--drain-signal", "USR1"}}) {
            String line = "supervisor run " + c[0] + " ";
            Result r = run(tmp, Map.of(), "bash", "-c", "source '" + script + "' && COMP_WORDS=(supervisor run " + c[0] + " '')"
                    + " && COMP_CWORD=3 && COMP_LINE='" + line + "' && COMP_POINT=" + line.length()
                    + " && _complete_supervisor supervisor '' " + c[0] + " >/dev/null 2>&1; printf '%s\\n' \"${COMPREPLY[@]}\"");
            assertEquals(0, r.code, "the completion script loads" + r);
            assertTrue(r.out.lines().anyMatch(l -> l.equals(c[1])), "after " + c[0] + ": " + c[1] + r);
        }
    }

    @Test
    void topLevelHelpListsEveryCommandInWholeSentences() throws Exception {
        Result r = run(tmp, Map.of(), dist.resolve("bin/supervisor").toString(), "--help");
        assertEquals(0, r.code, "--help" + r);
        for (String command : List.of("run", "reload", "status", "stop", "demo")) {
            assertTrue(r.out.lines().anyMatch(l -> l.startsWith("  " + command + " ")), "lists " + command + r);
        }
        assertTrue(r.out.lines().noneMatch(l -> l.endsWith(":") && !l.equals("Commands:")), "no description cut after a colon" + r);
        assertTrue(r.out.strip().endsWith("."), "ends with a whole sentence" + r);
    }

    @Test
    void manPageListsEveryCommand() throws IOException {
        String man = Files.readString(dist.resolve("share/man/man1/supervisor.1socket"));
        assertTrue(man.contains(".TH SUPERVISOR 1socket "), "a section 1 man page, named apart from supervisord's supervisor(1)");
        for (String command : List.of("run", "reload", "status", "stop", "demo")) {
            assertTrue(man.contains(".SS " + command + "\n"), "documents " + command);
        }
        for (String option : List.of("\\-\\-listen", "\\-\\-drain\\-timeout", "\\-\\-json", "\\-\\-timeout", "\\-\\-port")) {
            assertTrue(man.contains(option), "documents " + option);
        }
        assertTrue(man.contains("$XDG_RUNTIME_DIR/supervisor\\-UID/supervisor.sock"), "the control socket default as written, not as the build machine had it");
        assertFalse(man.contains("${"), "no unresolved variable (picocli's ${picocli.help.name.0} once stood there)");
        assertFalse(man.contains("\\efR") || man.contains("\\efB"), "no font escape printed literally");
        assertTrue(man.contains(".SH CONFIG FILE\n"), "a section on the config file");
        for (String key : List.of("listen", "command", "workers", "ready", "ready\\-timeout", "drain\\-signal", "drain\\-timeout",
                "stdin\\-listener", "env")) {
            assertTrue(man.contains(".TP\n\\fB\"" + key + "\"\\fR"), "the config key " + key);
        }
    }

    // --- the .deb --------------------------------------------------------------------------------

    @Test
    void debDeclaresItsJavaDependencyAndInstallsTheExpectedPaths() throws Exception {
        Result info = run(tmp, Map.of(), "dpkg-deb", "--info", deb.toString());
        assertEquals(0, info.code, "dpkg-deb --info" + info);
        Map<String, String> control = new HashMap<>();
        for (String line : info.out.lines().map(String::strip).collect(Collectors.toList())) {
            int colon = line.indexOf(": ");
            if (colon > 0) {
                control.putIfAbsent(line.substring(0, colon), line.substring(colon + 2));
            }
        }
        assertEquals("socket-supervisor", control.get("Package"), "not 'supervisor', which is Debian's supervisord" + info);
        assertEquals("all", control.get("Architecture"));
        assertEquals(version.replace("-SNAPSHOT", "~SNAPSHOT"), control.get("Version"));
        assertEquals("default-jre-headless (>= 2:1.17) | java17-runtime-headless | java-runtime-headless (>= 17)", control.get("Depends"),
                "a Java 17+ runtime, as Debian 12 names it");
        assertEquals(null, control.get("Conflicts"), "co-installable with Debian's supervisor (supervisord)");

        Result contents = run(tmp, Map.of(), "dpkg-deb", "--contents", deb.toString());
        assertEquals(0, contents.code, "dpkg-deb --contents" + contents);
        List<String> paths = contents.out.lines().map(l -> l.replaceAll("^\\S+\\s+\\S+\\s+\\S+\\s+\\S+\\s+\\S+\\s+", ""))
                .collect(Collectors.toList());
        for (String path : List.of("./usr/bin/supervisor -> ../share/supervisor/bin/supervisor", "./usr/share/supervisor/bin/supervisor",
                "./usr/share/supervisor/lib/supervisor-" + version + ".jar", "./usr/share/supervisor/lib/supervisor-protocol-" + version + ".jar",
                "./usr/share/supervisor/lib/supervisor.classlist", "./lib/systemd/system/supervisor@.service",
                "./lib/systemd/system/supervisor@.socket", "./usr/share/bash-completion/completions/supervisor",
                "./usr/share/man/man1/supervisor.1socket.gz", "./usr/share/doc/socket-supervisor/README.md",
                "./usr/share/doc/socket-supervisor/DESIGN.md", "./usr/share/doc/socket-supervisor/examples/web.json",
                "./usr/share/doc/socket-supervisor/examples/gunicorn.conf.py")) {
            assertTrue(paths.contains(path), "the .deb has " + path + contents);
        }
        assertTrue(contents.out.lines().anyMatch(l -> l.startsWith("-rwxr-xr-x root/root") && l.endsWith(" ./usr/share/supervisor/bin/supervisor")),
                "the launcher is root's and executable" + contents);
        try (Stream<Path> jars = Files.list(dist.resolve("lib"))) {
            for (Path jar : jars.filter(p -> p.toString().endsWith(".jar")).collect(Collectors.toList())) {
                assertTrue(paths.contains("./usr/share/supervisor/lib/" + jar.getFileName()), "the .deb has " + jar.getFileName());
            }
        }
    }

    @Test
    void debLauncherRunsThroughUsrBinSymlink() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("root"));
        Result x = run(tmp, Map.of(), "dpkg-deb", "-x", deb.toString(), root.toString());
        assertEquals(0, x.code, "dpkg-deb -x" + x);
        assertTrue(Files.isSymbolicLink(root.resolve("usr/bin/supervisor")), "/usr/bin/supervisor is a symlink");
        Result r = run(tmp, Map.of("SUPERVISOR_CDS", "off"), root.resolve("usr/bin/supervisor").toString(), "--version");
        assertEquals(0, r.code, "the packaged launcher, through /usr/bin/supervisor" + r);
        assertTrue(r.out.startsWith("supervisor " + version), "prints the version" + r);
    }

    // --- helpers ---------------------------------------------------------------------------------

    private Path extractTarball() throws Exception {
        Path into = Files.createDirectories(tmp.resolve("extracted"));
        Result r = run(tmp, Map.of(), "tar", "-xzf", tarball.toString(), "-C", into.toString());
        assertEquals(0, r.code, "tar -xzf" + r);
        Path top = into.resolve("supervisor-" + version);
        assertTrue(Files.isDirectory(top), "the tarball has one top directory supervisor-" + version);
        return top;
    }

    /** An environment whose PATH has the launcher's tools but no java, and no JAVA_HOME. */
    private Map<String, String> javaLessEnv() throws IOException {
        Path tools = Files.createDirectories(tmp.resolve("tools"));
        for (String tool : TOOLS) {
            Path real = Stream.of("/usr/bin/", "/bin/").map(d -> Path.of(d + tool)).filter(Files::isExecutable).findFirst()
                    .orElseThrow(() -> new AssertionError("no " + tool + " on this machine"));
            if (!Files.exists(tools.resolve(tool), java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Files.createSymbolicLink(tools.resolve(tool), real);
            }
        }
        Map<String, String> env = new HashMap<>();
        env.put("PATH", tools.toString());
        env.put("JAVA_HOME", null);
        env.put("SUPERVISOR_CACHE_DIR", tmp.resolve("cache").toString());
        return env;
    }

    private static void fakeJava(Path java, String body) throws IOException {
        Files.createDirectories(java.getParent());
        Files.writeString(java, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private static Path awaitArchive(Path cache, Duration within) throws Exception {
        return awaitFile(cache, ".jsa", within);
    }

    /** The background job is over once its lock is gone (before that, it may still write into the cache). */
    private static void awaitNoLock(Path cache) throws Exception {
        long deadline = System.nanoTime() + QUICK.toNanos();
        while (System.nanoTime() < deadline) {
            try (Stream<Path> files = Files.list(cache)) {
                if (files.noneMatch(p -> p.getFileName().toString().endsWith(".lock"))) {
                    return;
                }
            }
            Thread.sleep(50);
        }
        fail("the background job's lock in " + cache + " is still there after " + QUICK);
    }

    /** The one file in {@code dir} whose name ends in {@code suffix}, once the background job has renamed it there. */
    private static Path awaitFile(Path dir, String suffix, Duration within) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.isDirectory(dir)) {
                try (Stream<Path> files = Files.list(dir)) {
                    List<Path> done = files.filter(p -> p.getFileName().toString().endsWith(suffix)).collect(Collectors.toList());
                    if (done.size() == 1) {
                        return done.get(0);
                    }
                    assertTrue(done.size() <= 1, "one per JDK and distribution: " + done);
                }
            }
            Thread.sleep(100);
        }
        return fail("no *" + suffix + " appeared in " + dir + " within " + within);
    }

    /** The JDK 25 to check the launcher on: -Dit.jdk25.home, $JDK25_HOME, or Temurin's Debian path. */
    private static Path jdk25() {
        String given = System.getProperty("it.jdk25.home");
        if (given == null || given.isEmpty()) {
            given = System.getenv("JDK25_HOME");
        }
        if (given == null || given.isEmpty()) {
            given = "/usr/lib/jvm/temurin-25-jdk-amd64";
        }
        Path home = Path.of(given);
        if (!Files.isExecutable(home.resolve("bin/java"))) {
            fail("no JDK 25 at " + home + ": install one there, or point -Dit.jdk25.home or $JDK25_HOME at it");
        }
        return home;
    }

    /** Key=value lines of a unit file (the first of each key; comments and sections skipped). */
    private static Map<String, String> unit(Path file) throws IOException {
        Map<String, String> keys = new HashMap<>();
        for (String line : Files.readAllLines(file)) {
            String l = line.strip();
            int eq = l.indexOf('=');
            if (l.isEmpty() || l.startsWith("#") || l.startsWith(";") || l.startsWith("[") || eq < 0) {
                continue;
            }
            keys.putIfAbsent(l.substring(0, eq), l.substring(eq + 1));
        }
        return keys;
    }

    private static long seconds(String timespan) {
        assertTrue(timespan != null && timespan.matches("\\d+s?"), "a timespan in seconds: " + timespan);
        return Long.parseLong(timespan.replace("s", ""));
    }

    private static Path only(Path dir, String glob) throws IOException {
        List<Path> found = new ArrayList<>();
        try (var stream = Files.newDirectoryStream(dir, glob)) {
            stream.forEach(found::add);
        }
        if (found.size() != 1) {
            fail("expected one " + glob + " in " + dir + " (built by `mvn package` in packaging/), found " + found);
        }
        return found.get(0);
    }

    private record Result(int code, String out, String err) {
        @Override
        public String toString() {
            return "\n--- exit " + code + "\n--- stdout:\n" + out + "--- stderr:\n" + err;
        }
    }

    /** Runs a command in {@code dir} with {@code env} laid over this JVM's (a null value removes the variable). */
    private static Result run(Path dir, Map<String, String> env, String... command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile());
        Map<String, String> e = pb.environment();
        for (String v : List.of("JDK_JAVA_OPTIONS", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "SUPERVISOR_JAVA_OPTS", "SUPERVISOR_CDS",
                "SUPERVISOR_CONTROL")) {
            e.remove(v);
        }
        env.forEach((k, v) -> {
            if (v == null) {
                e.remove(k);
            } else {
                e.put(k, v);
            }
        });
        Path out = Files.createTempFile("packaging-it", ".out");
        Path err = Files.createTempFile("packaging-it", ".err");
        try {
            Process p = pb.redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).redirectOutput(out.toFile())
                    .redirectError(err.toFile()).start();
            if (!p.waitFor(QUICK.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail(String.join(" ", command) + " did not finish within " + QUICK);
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } catch (IOException e2) {
            throw new UncheckedIOException(e2);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
