package dev.supervisor.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/** Where the programs the benchmark runs are, and what is missing (with the package to install). */
final class Tools {
    private Tools() {}

    /** Program name → Debian package. */
    static final Map<String, String> PACKAGES = new TreeMap<>(Map.of(
            "lighttpd", "lighttpd", "gunicorn", "gunicorn", "nginx", "nginx", "haproxy", "haproxy", "wrk", "wrk", "python3", "python3"));

    static Optional<Path> find(String program) {
        List<Path> candidates = new ArrayList<>(List.of(Path.of("/usr/sbin", program), Path.of("/usr/bin", program), Path.of("/sbin", program),
                Path.of("/bin", program)));
        String path = System.getenv().getOrDefault("PATH", "");
        for (String d : path.split(":")) {
            if (!d.isEmpty()) {
                candidates.add(Path.of(d, program));
            }
        }
        return candidates.stream().filter(Files::isExecutable).findFirst();
    }

    /** The program, or a {@link Missing} naming the package that has it. */
    static Path require(String program) {
        return find(program).orElseThrow(() -> new Missing(program + " is not installed (Debian: apt-get install -y " + PACKAGES.getOrDefault(program,
                program) + ")"));
    }

    /** A scenario's tool is missing: the scenario is skipped and the report says why. */
    static final class Missing extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Missing(String message) {
            super(message);
        }
    }

    /** A free loopback port for a server that binds its own (nginx, HAProxy, gunicorn, lighttpd alone). */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** JDK homes to compare: 17 (this machine's default) and 25 (Temurin), when present. */
    static Map<String, Path> jdks() {
        Map<String, Path> m = new TreeMap<>();
        for (String[] c : new String[][] {
                {"17", System.getenv("JDK17_HOME")}, {"17", "/usr/lib/jvm/java-17-openjdk-amd64"}, {"17", "/usr/lib/jvm/temurin-17-jdk-amd64"},
                {"25", System.getenv("JDK25_HOME")}, {"25", "/usr/lib/jvm/temurin-25-jdk-amd64"}, {"25", "/usr/lib/jvm/java-25-openjdk-amd64"}}) {
            if (c[1] != null && !m.containsKey(c[0]) && Files.isExecutable(Path.of(c[1], "bin/java"))) {
                m.put(c[0], Path.of(c[1]));
            }
        }
        return m;
    }

    /** The first line of {@code cmd}'s output (for versions), or "?". */
    static String firstLine(List<String> cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).strip();
            p.waitFor();
            return out.isEmpty() ? "?" : out.lines().findFirst().orElse("?");
        } catch (IOException e) {
            return "?";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "?";
        }
    }
}
