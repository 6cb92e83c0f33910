package dev.supervisor.it.security;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import dev.supervisor.it.Fixtures;

/** What the security tests share: root, the test user, running as another uid, /proc, fixtures. */
final class Sec {
    private Sec() {}

    /** The unprivileged user the tests connect as; .ci/run creates it, and so does {@link #testUser} when root. */
    static final String TEST_USER = "supervisor-it";

    static boolean isRoot() {
        return "0".equals(run(Duration.ofSeconds(10), "id", "-u").stdout().strip());
    }

    /** Fails (never skips) when the test does not run as root, saying why it must. */
    static void requireRoot(String why) {
        if (!isRoot()) {
            fail("this test must run as root (CI does): " + why);
        }
    }

    /** {uid, gid} of {@link #TEST_USER}, created with useradd when missing. */
    static int[] testUser() {
        Result id = run(Duration.ofSeconds(10), "id", "-u", TEST_USER);
        if (id.exit() != 0) {
            requireRoot("it creates the user " + TEST_USER + " (useradd) to connect as another uid");
            Result add = run(Duration.ofSeconds(30), "useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_USER);
            if (add.exit() != 0 && run(Duration.ofSeconds(10), "id", "-u", TEST_USER).exit() != 0) {
                fail("useradd " + TEST_USER + " failed: " + add);
            }
        }
        return ids(TEST_USER);
    }

    /** {uid, gid} of {@code user}. */
    static int[] ids(String user) {
        Result u = run(Duration.ofSeconds(10), "id", "-u", user);
        Result g = run(Duration.ofSeconds(10), "id", "-g", user);
        if (u.exit() != 0 || g.exit() != 0) {
            fail("no user " + user + ": " + u + g);
        }
        return new int[] {Integer.parseInt(u.stdout().strip()), Integer.parseInt(g.stdout().strip())};
    }

    /** {@code cmd} as uid/gid with no supplementary groups (util-linux setpriv), to completion. */
    static Result runAs(int[] ids, String... cmd) {
        List<String> all = new ArrayList<>(List.of("setpriv", "--reuid=" + ids[0], "--regid=" + ids[1], "--clear-groups", "--"));
        all.addAll(List.of(cmd));
        return run(Duration.ofSeconds(60), all.toArray(new String[0]));
    }

    record Result(int exit, String stdout, String stderr) {
        @Override
        public String toString() {
            return "[exit " + exit + "]\n--- stdout\n" + stdout + "--- stderr\n" + stderr;
        }
    }

    static Result run(Duration timeout, String... cmd) {
        try {
            Path out = Files.createTempFile("sec-it", ".out");
            Path err = Files.createTempFile("sec-it", ".err");
            try {
                Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                        .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
                if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    p.destroyForcibly();
                    fail(String.join(" ", cmd) + " did not finish within " + timeout);
                }
                return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
            } finally {
                Files.deleteIfExists(out);
                Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /**
     * Copies the fixtures under src/test/resources/security into {@code dir} and makes it and them
     * readable by every user (0755/0644), for workers and clients that run as another uid and may
     * not enter the build directory.
     */
    static Path publicFixtures(Path dir) {
        try {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            for (String name : List.of("peer.py", "user_worker.py", "argv.py", "orphans.py")) {
                try (InputStream in = Sec.class.getResourceAsStream("/security/" + name)) {
                    if (in == null) {
                        fail("fixture security/" + name + " is not on the test classpath");
                    }
                    Path p = dir.resolve(name);
                    Files.copy(in, p);
                    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
                }
            }
            // every directory above must be enterable too: @TempDir's parent is /tmp
            for (Path d = dir.getParent(); d != null; d = d.getParent()) {
                if (!Files.getPosixFilePermissions(d).contains(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE)) {
                    fail(d + " is not enterable by other users: put java.io.tmpdir somewhere they can reach");
                }
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A line of /proc/PID/status ("Uid", "Gid", "VmRSS", "State" ...), its value; null when the process is gone. */
    static String procStatus(long pid, String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith(field + ":")) {
                    return line.substring(field.length() + 1).strip();
                }
            }
            return null;
        } catch (IOException e) {
            return null;
        }
    }

    /** Resident memory of {@code pid} in KiB. */
    static long rssKib(long pid) {
        String v = procStatus(pid, "VmRSS");
        if (v == null) {
            fail("no VmRSS for pid " + pid);
        }
        return Long.parseLong(v.replace("kB", "").strip());
    }

    /**
     * Waits until {@code condition} holds, checking every 20 ms, for states that no event announces
     * (a zombie reaped, a port released); fails with {@code what} at the deadline.
     */
    static void awaitTrue(String what, Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                fail("not within " + timeout.toMillis() + " ms: " + what);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    /** True when this process can bind 127.0.0.1:port now (nothing listens there). */
    static boolean canBind(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** A port below 1024 that is free on 127.0.0.1 now (as root). */
    static int freePrivilegedPort() {
        for (int port = 81; port < 1024; port++) {
            if (canBind(port)) {
                return port;
            }
        }
        return fail("no free port below 1024 on 127.0.0.1");
    }

    /** One request line to the control socket over the JDK's AF_UNIX channel, and the answer line (null on EOF). */
    static String request(Path control, String line) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(control));
            ch.write(ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8)));
            return readLine(ch);
        }
    }

    /** Reads one line (blocking channel); null when the peer closed first. */
    static String readLine(SocketChannel ch) throws IOException {
        ByteBuffer one = ByteBuffer.allocate(1);
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        while (true) {
            one.clear();
            if (ch.read(one) < 0) {
                return bytes.size() == 0 ? null : bytes.toString(StandardCharsets.UTF_8);
            }
            if (one.get(0) == '\n') {
                return bytes.toString(StandardCharsets.UTF_8);
            }
            bytes.write(one.get(0));
        }
    }

    static String python() {
        return Fixtures.python();
    }

    /** {@code python3 -u fixtures/worker.py ARGS}: the shared fixture worker (see it-tests/README.md). */
    static List<String> worker(String... args) {
        java.net.URL url = Sec.class.getResource("/fixtures/worker.py");
        if (url == null) {
            fail("fixtures/worker.py is not on the test classpath");
        }
        List<String> cmd = new ArrayList<>(List.of(python(), "-u"));
        try {
            cmd.add(Path.of(url.toURI()).toString());
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        cmd.addAll(List.of(args));
        return cmd;
    }
}
