package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the things the tests run are: the distribution, the fixture scripts, python3, lighttpd,
 * gunicorn and the JDKs. Anything missing fails the test with what to do about it; nothing is
 * skipped, so a green run means every test ran.
 */
public final class Fixtures {
    private Fixtures() {}

    static final String INSTALL_HINT = ".ci/run installs it on Debian (apt-get install -y python3 python3-prometheus-client lighttpd gunicorn)";

    /** The exploded distribution, from the {@code supervisor.home} system property failsafe sets. */
    static Path supervisorHome() {
        String home = System.getProperty("supervisor.home");
        if (home == null) {
            fail("system property supervisor.home is not set: run the ITs through Maven (mvn -B verify -pl it-tests -am)");
        }
        Path p = Path.of(home).toAbsolutePath().normalize();
        if (!Files.isExecutable(p.resolve("bin/supervisor"))) {
            fail(p.resolve("bin/supervisor") + " is missing: build the distribution first (mvn -B -q package -DskipTests)");
        }
        return p;
    }

    public static Path supervisorBin() {
        return supervisorHome().resolve("bin/supervisor");
    }

    /** A file under src/test/resources/fixtures, as copied to the test classes. */
    static Path script(String name) {
        URL url = Fixtures.class.getResource("/fixtures/" + name);
        if (url == null) {
            fail("fixture " + name + " is not on the test classpath (it-tests/src/test/resources/fixtures)");
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code python3 -u worker.py ARGS...}: the fixture worker, unbuffered. */
    static List<String> worker(String... args) {
        List<String> cmd = new ArrayList<>(List.of(python(), "-u", script("worker.py").toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** The system python3 (Debian's, which gunicorn also uses), else the first python3 on PATH. */
    public static String python() {
        return tool("python3", List.of("/usr/bin/python3"), true).toString();
    }

    static Path lighttpd() {
        return tool("lighttpd", List.of("/usr/sbin/lighttpd", "/sbin/lighttpd"), false);
    }

    static Path gunicorn() {
        return tool("gunicorn", List.of("/usr/bin/gunicorn"), false);
    }

    private static Path tool(String name, List<String> preferred, boolean preferredFirst) {
        List<Path> candidates = new ArrayList<>();
        List<Path> onPath = new ArrayList<>();
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (!dir.isEmpty()) {
                onPath.add(Path.of(dir, name));
            }
        }
        List<Path> fixed = preferred.stream().map(Path::of).toList();
        candidates.addAll(preferredFirst ? fixed : onPath);
        candidates.addAll(preferredFirst ? onPath : fixed);
        for (Path p : candidates) {
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return p;
            }
        }
        return fail(name + " is not installed (looked on PATH and in " + preferred + "): " + INSTALL_HINT);
    }

    /** The JDK 17 the supervisor runs on: -Dit.jdk17.home, $JDK17_HOME, this JVM if it is 17, or Debian's. */
    public static Path jdk17() {
        String own = System.getProperty("java.home");
        String fallback = Runtime.version().feature() == 17 ? own : "/usr/lib/jvm/java-17-openjdk-amd64";
        return jdk(17, "it.jdk17.home", "JDK17_HOME", fallback);
    }

    /** The JDK 25 the supervisor runs on: -Dit.jdk25.home, $JDK25_HOME, or Temurin's Debian path. */
    public static Path jdk25() {
        return jdk(25, "it.jdk25.home", "JDK25_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64");
    }

    private static Path jdk(int feature, String property, String envVar, String fallback) {
        String given = System.getProperty(property);
        if (given == null || given.isEmpty()) {
            given = System.getenv(envVar);
        }
        if (given == null || given.isEmpty()) {
            given = fallback;
        }
        Path home = Path.of(given);
        if (!Files.isExecutable(home.resolve("bin/java"))) {
            fail("no JDK " + feature + " at " + home + ": install one there, or point -D" + property + " or $" + envVar + " at it");
        }
        try {
            return home.toRealPath();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A fresh directory for the control socket must be private (the supervisor refuses one
     * others can enter); JUnit's {@code @TempDir} is created 0700 on Linux, checked here.
     */
    public static Path privateDir(Path dir) {
        try {
            String mode = PosixFilePermissions.toString(Files.getPosixFilePermissions(dir));
            if (!mode.equals("rwx------")) {
                fail("temp dir " + dir + " has mode " + mode + ", expected rwx------ for the control socket");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dir;
    }
}
