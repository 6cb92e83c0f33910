package dev.supervisor.it.systemd;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Commands run on the host, each with a deadline; their output (stdout and stderr) kept. */
final class Host {
    private Host() {}

    record Result(int code, String output) {
        /** The last lines of the output, for a failure message. */
        String tail(int lines) {
            List<String> all = output.lines().toList();
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        }
    }

    /**
     * Runs {@code cmd} with stdin empty, its output appended to {@code log} (or a temporary file
     * when null). A command still running at the deadline, or when the JVM exits, is killed with
     * its descendants; at the deadline it fails the test.
     */
    static Result run(List<String> cmd, Path log, Duration timeout) throws IOException, InterruptedException {
        Path out = log != null ? log : Files.createTempFile("supervisor-it-", ".out");
        Process p = null;
        Thread hook = null;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile())).start();
            Process started = p;
            hook = new Thread(() -> kill(started), "kill " + cmd.get(0));
            Runtime.getRuntime().addShutdownHook(hook);
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                kill(p);
                fail(String.join(" ", cmd) + " did not finish in " + timeout + ":\n" + read(out));
            }
            return new Result(p.exitValue(), read(out));
        } finally {
            if (hook != null) {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException shuttingDown) {
                    // the hook runs
                }
            }
            if (p != null && p.isAlive()) {
                kill(p); // interrupted while waiting
            }
            if (log == null) {
                Files.deleteIfExists(out);
            }
        }
    }

    /** KILLs {@code p} and its descendants, children first seen before the parent dies. */
    private static void kill(Process p) {
        List<ProcessHandle> tree = p.descendants().toList();
        p.destroyForcibly();
        tree.forEach(ProcessHandle::destroyForcibly);
        try {
            p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The path of {@code name} on PATH or in the sbin directories, else a failure saying how to get it. */
    static String tool(String name) {
        for (String dir : (System.getenv().getOrDefault("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
                return Path.of(dir, name).toString();
            }
        }
        return fail(name + " is not installed: .ci/run installs it on Debian (apt-get install -y systemd-container debootstrap)");
    }

    private static String read(Path out) throws IOException {
        byte[] b = Files.readAllBytes(out);
        int max = 1 << 20; // a debootstrap log is long; its end says why it failed
        return new String(b, Math.max(0, b.length - max), Math.min(b.length, max), StandardCharsets.UTF_8);
    }
}
