package dev.supervisor.it.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import dev.supervisor.it.Fixtures;
import dev.supervisor.it.Http;
import dev.supervisor.it.Load;
import dev.supervisor.it.Output;
import dev.supervisor.it.SupervisorProcess;

/**
 * The other ways a Java worker gets its listener, with the example servers: over SCM_RIGHTS from
 * the supervisor when it inherited no LISTEN_FDS; refused, with the library's message, when it is
 * not a worker; and from plain {@code systemd-socket-activate}, with no supervisor at all.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class JavaWorkerPathsIT {
    /** What {@code supervisor run} gives its workers in JDK_JAVA_OPTIONS; elsewhere the user adds it. */
    private static final String JVM_FLAGS = "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED --enable-native-access=ALL-UNNAMED";
    private static final Duration READY = Duration.ofSeconds(45);

    @TempDir
    Path tmp;

    /**
     * {@code env -u LISTEN_FDS -u LISTEN_PID -u LISTEN_FDNAMES java ...}: the worker (env execs
     * java, so it keeps the pid the supervisor started) sees no LISTEN_* and must ask the
     * supervisor at SUPERVISOR_SOCKET for its listener. Netty serves on what comes back, through
     * reloads under load, and drains.
     */
    @ParameterizedTest(name = "netty on JDK {0}")
    @ValueSource(ints = {17, 25})
    void listenerOverScmRightsWhenNothingIsInherited(int feature) throws Exception {
        Path jdk = jdk(feature);
        JavaExample netty = JavaExample.NETTY;
        List<String> command = new ArrayList<>(List.of("env", "-u", "LISTEN_FDS", "-u", "LISTEN_PID", "-u", "LISTEN_FDNAMES"));
        command.addAll(netty.command(jdk));
        try (SupervisorProcess s = netty.supervisor(tmp, jdk).command(command).start()) {
            int port = s.port("http");
            Output.Match started = s.awaitLine("^supervisor: started worker 1\\.0 \\(pid (\\d+)\\)", READY);
            s.awaitLine("^supervisor: generation 1 ready in \\d+ ms", READY);
            Map<String, String> env = environment(Long.parseLong(started.group(1)));
            assertFalse(env.containsKey("LISTEN_FDS") || env.containsKey("LISTEN_PID") || env.containsKey("LISTEN_FDNAMES"),
                    "the worker inherited no LISTEN_* variables: " + env.keySet());
            assertEquals(s.control().toString(), env.get("SUPERVISOR_SOCKET"));
            assertEquals(1, netty.generation(Http.get(port, "/")), "generation 1 serves on the listener it fetched");

            Load.Running load = Load.against(port, "/").threads(2).requests(Integer.MAX_VALUE).deadline(Duration.ofMinutes(1)).start();
            for (int g = 2; g <= 3; g++) {
                int mark = s.output().size();
                s.signal("HUP");
                s.awaitLine(mark, "^supervisor: generation " + g + " ready in \\d+ ms.*; draining generation " + (g - 1) + "$", READY);
                s.awaitLine(mark, "^supervisor: worker " + (g - 1) + "\\.0 \\(pid \\d+\\) exited with code 0 \\(drained\\)$", READY);
            }
            Load.Result r = load.stop();
            assertEquals(0, r.failed(), "2 reloads under load, each worker fetching its listener: " + r);
            assertEquals(3, netty.generation(Http.get(port, "/")));
            assertTrue(s.supervisorLog().stream().noneMatch(l -> l.contains("refused")), "no worker was refused: " + s.supervisorLog());

            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(30)));
        }
    }

    /**
     * A launcher that forks the JVM and does not exec ({@code sh -c 'java ...; echo done'}): the
     * JVM is the worker's child, not the worker. Its drain still reaches it: a slow request in
     * flight across the reload is answered 200 by generation 1, which then exits by itself (not
     * KILLed at the drain timeout), and generation 2 serves.
     */
    @Test
    void aLauncherThatForksTheJvmStillDrainsIt() throws Exception {
        Path jdk = Fixtures.jdk17();
        JavaExample netty = JavaExample.NETTY;
        String java = String.join(" ", netty.command(jdk).stream().map(a -> "'" + a + "'").toList());
        try (SupervisorProcess s = netty.supervisor(tmp, jdk).command("/bin/sh", "-c", java + "; echo launcher done").start()) {
            int port = s.port("http");
            s.awaitLine("^supervisor: generation 1 ready in \\d+ ms", READY);
            int mark = s.output().size();
            // Longer than a JVM start on a loaded machine, shorter than the 30 s drain timeout.
            CompletableFuture<Http.Response> slow = CompletableFuture.supplyAsync(() -> {
                try {
                    return Http.get(port, "/slow?ms=15000", Http.CONNECT_TIMEOUT, Duration.ofSeconds(45));
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            CompletableFuture<Integer> answeredAt = slow.thenApply(x -> s.output().size());
            s.awaitLine(mark, "^\\[1\\.0 \\d+\\] slow request: answering in 15000 ms$", READY);
            s.signal("HUP");
            Output.Match drainStarted = s.awaitLine(mark, "^supervisor: generation 2 ready in \\d+ ms.*; draining generation 1$", READY);
            Http.Response answer = slow.get(45, TimeUnit.SECONDS);
            assertEquals(1, netty.generation(answer), "the forked JVM of generation 1 answered: " + answer);
            assertTrue(drainStarted.index() < answeredAt.get(), "the answer came after the drain started, so it was in flight across it"
                    + s.output().dump());
            s.awaitLine(mark, "^supervisor: generation 1 exited$", READY);
            assertTrue(s.supervisorLog().stream().noneMatch(l -> l.contains("after the drain signal: killing it")),
                    "the forked JVM drained by itself: " + s.supervisorLog());
            assertEquals(2, netty.generation(Http.get(port, "/")));
            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(30)));
        }
    }

    /**
     * A process that is not one of the supervisor's workers (started by this test, with
     * SUPERVISOR_SOCKET pointing at a live supervisor and no LISTEN_*) asks for the listener and
     * is refused: the example exits with the library's message, which says what it got and why.
     */
    @Test
    void aProcessThatIsNotAWorkerIsRefused() throws Exception {
        Path jdk = Fixtures.jdk17();
        JavaExample selector = JavaExample.SELECTOR;
        try (SupervisorProcess s = selector.supervisor(tmp, jdk).command(selector.command(jdk)).start()) {
            s.awaitLine("^supervisor: generation 1 ready in \\d+ ms", READY);

            ProcessBuilder pb = new ProcessBuilder(selector.command(jdk));
            clean(pb.environment());
            pb.environment().put("SUPERVISOR_SOCKET", s.control().toString());
            pb.environment().put("JDK_JAVA_OPTIONS", JVM_FLAGS);
            Path out = tmp.resolve("intruder.out");
            Path err = tmp.resolve("intruder.err");
            Process intruder = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            long pid = intruder.pid();
            try {
                assertTrue(intruder.waitFor(30, TimeUnit.SECONDS), "the process that is not a worker exits");
            } finally {
                intruder.destroyForcibly();
            }
            String stderr = Files.readString(err, StandardCharsets.UTF_8);
            assertEquals(1, intruder.exitValue(), "an uncaught IllegalStateException: " + stderr);
            assertTrue(stderr.contains("java.lang.IllegalStateException: no listener named 'http': this process got no listeners: "
                    + "LISTEN_FDS is not set"), stderr);
            assertTrue(stderr.contains("asking the supervisor at " + s.control() + " (SUPERVISOR_SOCKET) was refused: pid " + pid
                    + " is not a current worker of this supervisor"), stderr);
            assertEquals("", Files.readString(out, StandardCharsets.UTF_8), "it never served");
            s.awaitLine("^supervisor: control socket: refused listeners to pid " + pid + ": not a current worker$", Duration.ofSeconds(5));

            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(30)));
        }
    }

    static Stream<Arguments> systemdExamples() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (int feature : new int[] {17, 25}) {
            for (JavaExample e : JavaExample.values()) {
                if (!e.stdinListener) {
                    b.add(Arguments.of(e, feature));
                }
            }
        }
        return b.build();
    }

    /**
     * {@code systemd-socket-activate -l 127.0.0.1:PORT --fdname=http -E JDK_JAVA_OPTIONS=...}:
     * plain socket activation, no supervisor. It starts the example at the first connection, which
     * is answered on the listener the example found in LISTEN_FDS; SIGTERM then drains it, and it
     * exits 0.
     */
    @ParameterizedTest(name = "{0} on JDK {1}")
    @MethodSource("systemdExamples")
    void underSystemdSocketActivate(JavaExample example, int feature) throws Exception {
        int port = freePort();
        List<String> cmd = new ArrayList<>(List.of(systemdSocketActivate().toString(), "-l", "127.0.0.1:" + port, "--fdname=http",
                "-E", "JDK_JAVA_OPTIONS=" + JVM_FLAGS));
        cmd.addAll(example.command(jdk(feature)));
        // stdout to a file, read once the process is gone: a pipe's last lines can be lost to the
        // JDK, which drains and closes a child's pipes when it exits.
        Path stdout = tmp.resolve("activated.out");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(stdout.toFile());
        clean(pb.environment());
        Process p = pb.start();
        Output stderr = new Output();
        stderr.ended(Output.Stream.STDOUT);
        pump(p.getErrorStream(), Output.Stream.STDERR, stderr);
        try {
            stderr.await(0, Output.Stream.STDERR, Pattern.compile("^Listening on 127\\.0\\.0\\.1:" + port + " as 3\\.$"), READY);
            // The first connection starts the JVM; the answer comes once it serves.
            Http.Response r = Http.get(port, "/");
            assertEquals(-1, example.generation(r), "no supervisor, so no generation: " + r);
            assertEquals(p.pid(), example.body(r).path("pid").asLong(), "systemd-socket-activate execs the example in its own process");

            p.destroy(); // SIGTERM: the example's drain signal
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the example exits after SIGTERM" + stderr.dump());
            String out = Files.readString(stdout, StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), "it drained and exited by itself: " + out + stderr.dump());
            assertTrue(out.contains("drained: exiting"), out + stderr.dump());
        } finally {
            p.destroyForcibly();
        }
    }

    /** Reads {@code in} line by line into {@code output} on a daemon thread, echoing to the test log. */
    private static void pump(java.io.InputStream in, Output.Stream stream, Output output) {
        Thread t = new Thread(() -> {
            try (java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    System.err.println("[systemd-socket-activate] " + line);
                    output.add(stream, line);
                }
            } catch (IOException e) {
                System.err.println("[systemd-socket-activate] (reading " + stream + " failed: " + e + ")");
            } finally {
                output.ended(stream);
            }
        }, "systemd-socket-activate-" + stream);
        t.setDaemon(true);
        t.start();
    }

    private static Path jdk(int feature) {
        return feature == 17 ? Fixtures.jdk17() : Fixtures.jdk25();
    }

    /** Without what would leak the test JVM's own setup into the child. */
    private static void clean(Map<String, String> env) {
        for (String name : List.of("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "SUPERVISOR_SOCKET", "SUPERVISOR_GENERATION",
                "SUPERVISOR_WORKER", "JDK_JAVA_OPTIONS", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS")) {
            env.remove(name);
        }
    }

    /** A port nothing listens on now: bound to 0 by us, read back, closed. */
    private static int freePort() throws IOException {
        try (ServerSocketChannel probe = ServerSocketChannel.open()) {
            probe.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return ((InetSocketAddress) probe.getLocalAddress()).getPort();
        }
    }

    private static Path systemdSocketActivate() {
        for (String dir : (System.getenv().getOrDefault("PATH", "") + ":/usr/bin:/bin").split(":")) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, "systemd-socket-activate");
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return fail("systemd-socket-activate is not installed (Debian: apt-get install systemd)");
    }

    /** The environment of process {@code pid}, from /proc. */
    private static Map<String, String> environment(long pid) throws IOException {
        String raw = new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "environ")), StandardCharsets.UTF_8);
        Map<String, String> env = new java.util.TreeMap<>();
        Arrays.stream(raw.split("\0")).filter(kv -> kv.indexOf('=') > 0)
                .forEach(kv -> env.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1)));
        return env;
    }
}
