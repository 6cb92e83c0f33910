package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.supervisor.it.PublicHarness.Supervisor;

/**
 * `supervisor upgrade` and SIGUSR2 on a copy of the real distribution whose version each test
 * changes (as installing a newer package would): same pid, same workers, no request failed, and
 * afterwards the new image owns the handed-over workers fully. A broken installation changes
 * nothing.
 */
class UpgradeIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration LONG = Duration.ofSeconds(60);

    @TempDir
    Path tmp;
    @TempDir
    Path ctl;

    /** Each upgrade is two cold JVM starts (the check, the new image): long on a shared 2-core machine. */
    @Test
    @Timeout(value = 20, unit = java.util.concurrent.TimeUnit.MINUTES)
    void twentyUpgradesUnderLoadKeepPidWorkersAndEveryRequest() throws Exception {
        Path dist = copyDistribution();
        try (Supervisor s = PublicHarness.run(ctl).bin(dist.resolve("bin/supervisor")).env("SUPERVISOR_CDS", "off")
                .listen("web", "127.0.0.1:0").readyNotify().workers(2).option("--drain-timeout", "3s")
                .command(List.of(PublicHarness.python(), "-u", Fixtures.script("worker.py").toString(), "http")).start()) {
            s.awaitReady(1);
            int port = s.port("web");
            List<Long> workers = s.workerPids(1);
            assertEquals(2, workers.size());
            long pid = s.pid();
            PublicHarness.LoadRun load = PublicHarness.load(port, "/").threads(4).requests(50_000_000).deadline(Duration.ofMinutes(19)).start();
            StatusProbe probe = StatusProbe.start(s.control());
            List<Long> took = new ArrayList<>();
            List<Long> paused = new ArrayList<>();
            for (int i = 1; i <= 20; i++) {
                String version = "9.0." + i;
                setVersion(dist, version);
                long t0 = System.nanoTime();
                if (i % 4 == 0) {
                    int from = s.outputSize();
                    s.signal("USR2");
                    s.awaitLine(from, "upgraded from \\S+ to " + version.replace(".", "\\.") + " ", LONG);
                } else {
                    PublicHarness.Cli c = cli(s, "upgrade");
                    assertEquals(0, c.exit(), c.stderr());
                    assertTrue(c.stdout().contains("to " + version + " (pid " + pid + ")"), c.stdout());
                }
                took.add((System.nanoTime() - t0) / 1_000_000);
                JsonNode st = s.status();
                assertEquals(pid, st.path("pid").asLong());
                assertEquals(version, st.path("version").asText());
                assertEquals(i, st.path("upgrades").asInt());
                assertEquals(workers, pids(st, 1), "workers after upgrade " + i);
                paused.add(st.path("last_upgrade_pause_ms").asLong());
            }
            PublicHarness.LoadResult r = load.stop();
            long longest = probe.stop();
            assertEquals(List.of(), probe.failures, "status requests that failed during the upgrades");
            System.err.println("UpgradeIT: 20 upgrades under load: " + r.answered() + " answered, " + r.failed() + " failed; upgrade took "
                    + took + " ms; control socket paused (hand-over to serving) " + paused + " ms; longest status round trip during them "
                    + longest + " ms");
            assertEquals(0, r.failed(), r.toString());
            assertTrue(r.answered() > 0);
            for (long w : workers) {
                assertTrue(ProcessHandle.of(w).isPresent(), "worker " + w + " still runs");
            }

            // The new image owns the handed-over workers: a request held on one outlives the drain
            // timeout of a reload, which KILLs it; a crashed one is restarted; stop ends everything.
            CompletableFuture<PublicHarness.Response> held = PublicHarness.getAsync(port, "/hold?ms=600000");
            s.awaitLine("holding request", LONG);
            int from = s.outputSize();
            PublicHarness.Cli reload = cli(s, "reload");
            assertEquals(0, reload.exit(), reload.stderr());
            s.awaitLine(from, "still running 3s after the drain signal: killing it", LONG);
            s.awaitLine(from, "generation 1 exited", LONG);
            for (long w : workers) {
                awaitGone(w);
            }
            held.handle((a, e) -> null).get();
            List<Long> second = pids(s.status(), 2);
            assertEquals(2, second.size());
            setVersion(dist, "9.1.0");
            assertEquals(0, cli(s, "upgrade").exit());
            from = s.outputSize();
            PublicHarness.signal(second.get(0), "KILL");
            s.awaitLine(from, "restarting generation 2 worker", LONG);
            s.awaitLine(from, "started worker 2\\.", LONG);
            assertEquals(200, PublicHarness.get(port, "/").status());
            assertEquals(0, cli(s, "stop").exit());
            assertEquals(0, s.awaitExit(LONG));
            for (long w : second) {
                awaitGone(w);
            }
        }
    }

    @Test
    @Timeout(value = 6, unit = java.util.concurrent.TimeUnit.MINUTES)
    void aBrokenInstallationChangesNothing() throws Exception {
        Path dist = copyDistribution();
        // A java on PATH whose release file the test can age: the launcher reads the version there.
        Path jdk = tmp.resolve("fake-jdk");
        Files.createDirectories(jdk.resolve("bin"));
        Path java = jdk.resolve("bin/java");
        Files.writeString(java, "#!/bin/sh\nexec " + Path.of(System.getProperty("java.home"), "bin", "java") + " \"$@\"\n");
        java.toFile().setExecutable(true);
        Files.writeString(jdk.resolve("release"), "JAVA_VERSION=\"17.0.15\"\n");
        try (Supervisor s = PublicHarness.run(ctl).bin(dist.resolve("bin/supervisor")).env("SUPERVISOR_CDS", "off").env("JAVA_HOME", "")
                .env("PATH", jdk.resolve("bin") + ":" + System.getenv("PATH"))
                .listen("web", "127.0.0.1:0").readyNotify()
                .command(List.of(PublicHarness.python(), "-u", Fixtures.script("worker.py").toString(), "http")).start()) {
            s.awaitReady(1);
            int port = s.port("web");
            List<Long> workers = s.workerPids(1);

            Path jar = mainJar(dist);
            Path saved = tmp.resolve("saved.jar");
            Files.copy(jar, saved);
            replace(jar, "this is not a jar".getBytes(StandardCharsets.US_ASCII));
            PublicHarness.Cli c = cli(s, "upgrade");
            assertEquals(1, c.exit(), c.stdout() + c.stderr());
            assertTrue(c.stderr().contains("failed its check"), c.stderr());
            replace(jar, Files.readAllBytes(saved));

            Files.writeString(jdk.resolve("release"), "JAVA_VERSION=\"11.0.2\"\n");
            c = cli(s, "upgrade");
            assertEquals(1, c.exit(), c.stdout() + c.stderr());
            assertTrue(c.stderr().contains("is Java 11.0.2, and supervisor needs Java 17"), c.stderr());

            JsonNode st = s.status();
            assertEquals(0, st.path("upgrades").asInt());
            assertEquals(workers, pids(st, 1));
            assertEquals(200, PublicHarness.get(port, "/").status());
        }
    }

    /** A command of the built CLI against {@code s}, with a deadline for a busy machine (a new image is a cold JVM start). */
    private static PublicHarness.Cli cli(Supervisor s, String command) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(PublicHarness.supervisorBin().toString(), command, "--control", s.control().toString());
        pb.environment().remove("JDK_JAVA_OPTIONS");
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        pb.environment().remove("_JAVA_OPTIONS");
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p = pb.start();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
        if (!p.waitFor(LONG.toSeconds() * 3, java.util.concurrent.TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("supervisor " + command + " did not finish within " + LONG.toSeconds() * 3 + " s");
        }
        return new PublicHarness.Cli(p.exitValue(), out.join(), err.join());
    }

    private static String read(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(" + e + ")";
        }
    }

    /** A copy of the built distribution, which the test may change as a package upgrade would. */
    private Path copyDistribution() throws IOException {
        Path from = PublicHarness.supervisorBin().getParent().getParent();
        Path to = tmp.resolve("dist");
        try (Stream<Path> all = Files.walk(from)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                Path q = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(q);
                } else {
                    Files.copy(p, q, StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
        return to;
    }

    private static Path mainJar(Path dist) throws IOException {
        try (Stream<Path> jars = Files.list(dist.resolve("lib"))) {
            return jars.filter(p -> p.getFileName().toString().matches("supervisor-\\d.*\\.jar")).findFirst().orElseThrow();
        }
    }

    /** The main jar with another version resource, put in place by rename as dpkg does. */
    private static void setVersion(Path dist, String version) throws IOException {
        Path jar = mainJar(dist);
        Path next = jar.resolveSibling(".next.jar");
        try (ZipFile in = new ZipFile(jar.toFile()); OutputStream f = Files.newOutputStream(next); ZipOutputStream out = new ZipOutputStream(f)) {
            for (Enumeration<? extends ZipEntry> es = in.entries(); es.hasMoreElements(); ) {
                ZipEntry e = es.nextElement();
                out.putNextEntry(new ZipEntry(e.getName()));
                if (e.getName().equals("dev/supervisor/version.properties")) {
                    out.write(("version=" + version + "\n").getBytes(StandardCharsets.UTF_8));
                } else {
                    try (InputStream is = in.getInputStream(e)) {
                        is.transferTo(out);
                    }
                }
                out.closeEntry();
            }
        }
        Files.move(next, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void replace(Path file, byte[] content) throws IOException {
        Path next = file.resolveSibling(".next");
        Files.write(next, content);
        Files.move(next, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static List<Long> pids(JsonNode status, int generation) {
        List<Long> out = new ArrayList<>();
        for (JsonNode g : status.path("generations")) {
            if (g.path("generation").asInt() == generation) {
                g.path("workers").forEach(w -> out.add(w.path("pid").asLong()));
            }
        }
        out.sort(null);
        return out;
    }

    private static void awaitGone(long pid) throws InterruptedException {
        long end = System.nanoTime() + LONG.toNanos();
        while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            assertTrue(System.nanoTime() < end, "pid " + pid + " still runs");
            ProcessHandle.of(pid).ifPresent(h -> h.onExit().completeOnTimeout(h, 1, java.util.concurrent.TimeUnit.SECONDS).join());
        }
    }

    /** Asks `status` over the control socket back to back and keeps the longest round trip: how long it goes unanswered. */
    private static final class StatusProbe {
        private final AtomicBoolean stop = new AtomicBoolean();
        private final AtomicLong longest = new AtomicLong();
        final List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        private Thread thread;

        static StatusProbe start(Path control) {
            StatusProbe p = new StatusProbe();
            p.thread = new Thread(() -> {
                byte[] req = "{\"v\":1,\"cmd\":\"status\"}\n".getBytes(StandardCharsets.UTF_8);
                for (int n = 0; !p.stop.get() && n < 1_000_000; n++) {
                    long t0 = System.nanoTime();
                    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(control))) {
                        ch.write(ByteBuffer.wrap(req));
                        ByteBuffer b = ByteBuffer.allocate(64 * 1024);
                        while (ch.read(b) > 0 && b.get(b.position() - 1) != '\n') {
                            // until the whole line is in
                        }
                    } catch (IOException e) {
                        p.failures.add(e.toString());
                    }
                    p.longest.accumulateAndGet((System.nanoTime() - t0) / 1_000_000, Math::max);
                }
            }, "status-probe");
            p.thread.start();
            return p;
        }

        long stop() throws InterruptedException {
            stop.set(true);
            thread.join(LONG.toMillis());
            return longest.get();
        }
    }
}
