package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The built distribution's {@code bin/supervisor run ...} (or a copy's, {@link Builder#bin}) as a
 * real process. Its stdout and stderr are read line by line into {@link Output} (and echoed for
 * whoever reads the test log); tests wait for lines with a deadline. {@link #close} kills the
 * supervisor and every worker it started, whatever state the test left them in.
 *
 * <pre>{@code
 * try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0")
 *         .command(Fixtures.worker("http")).start()) {
 *     int port = s.port("web");
 *     ...
 *     s.signal("TERM");
 *     assertEquals(0, s.awaitExit(Duration.ofSeconds(20)));
 * }
 * }</pre>
 */
public final class SupervisorProcess implements AutoCloseable {
    static final Duration STARTUP = Duration.ofSeconds(20);
    private static final Pattern STARTED = Pattern.compile("^supervisor: started worker \\d+\\.\\d+ \\(pid (\\d+)\\)");
    private static final Pattern ENDED = Pattern.compile("^supervisor: worker \\d+\\.\\d+ \\(pid (\\d+)\\) (?:exited|killed)");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Process process;
    private final Output output = new Output();
    private final Path control;
    private final Path javaHome;
    private final String tag;
    /** When the supervisor process started (read while it surely runs): older processes are not its workers. */
    private final java.time.Instant born;
    /** Pids of the workers the supervisor said it started and has not yet said are gone, for {@link #close}. */
    private final Set<Long> workerPids = new LinkedHashSet<>();

    public static Builder run(Path controlDir) {
        return new Builder(controlDir);
    }

    public static final class Builder {
        private final Path controlDir;
        private final List<String> options = new ArrayList<>();
        private final List<String> command = new ArrayList<>();
        private final Map<String, String> env = new LinkedHashMap<>();
        private List<String> raw;
        private final List<String> launcher = new ArrayList<>();
        private Path bin;
        private boolean rawStdout;
        /** -Dit.supervisor.java.home runs every supervisor of the suite on that JDK; a test may still pick its own. */
        private Path javaHome = Optional.ofNullable(System.getProperty("it.supervisor.java.home")).filter(s -> !s.isEmpty())
                .map(Path::of).orElse(null);

        private Builder(Path controlDir) {
            this.controlDir = Fixtures.privateDir(controlDir);
        }

        public Builder listen(String name, String address) {
            return option("-l", name + "=" + address);
        }

        public Builder workers(int n) {
            return option("-n", Integer.toString(n));
        }

        /** Ready when the worker sends READY=1 (every fixture does), instead of the default 1 s delay. */
        public Builder readyNotify() {
            return option("--ready", "notify");
        }

        public Builder option(String... args) {
            options.addAll(List.of(args));
            return this;
        }

        public Builder command(List<String> cmd) {
            command.addAll(cmd);
            return this;
        }

        public Builder command(String... cmd) {
            return command(List.of(cmd));
        }

        /** A variable in the supervisor's own environment. */
        Builder env(String name, String value) {
            env.put(name, value);
            return this;
        }

        /** The JDK the launcher runs the supervisor on (it honours JAVA_HOME); default: -Dit.supervisor.java.home, else as inherited. */
        public Builder javaHome(Path home) {
            this.javaHome = home;
            return this;
        }

        /**
         * Runs this {@code bin/supervisor} (a copy of the distribution, which the test may change as
         * a package upgrade would) instead of the built one. {@link SupervisorProcess#cli} stays on
         * the built distribution: a client works whatever the test did to the copy.
         */
        public Builder bin(Path launcherScript) {
            this.bin = launcherScript;
            return this;
        }

        /** A program that runs {@code bin/supervisor ARGS} in its own process (exec), as a shell that ignores HUP would. */
        Builder launcher(String... argv) {
            launcher.addAll(List.of(argv));
            return this;
        }

        /** The supervisor's stdout is not read: the test takes it as bytes, when it wants, from {@link #rawStdout}. */
        Builder rawStdout() {
            this.rawStdout = true;
            return this;
        }

        /** Exactly these arguments after {@code bin/supervisor}, for tests of bad input. */
        public Builder rawArgs(String... args) {
            this.raw = List.of(args);
            return this;
        }

        public SupervisorProcess start() {
            Path control = controlDir.resolve("ctl.sock");
            List<String> args = new ArrayList<>();
            if (raw != null) {
                args.addAll(raw);
            } else {
                args.add("run");
                args.addAll(options);
                args.add("--control");
                args.add(control.toString());
                args.add("--");
                args.addAll(command);
            }
            return new SupervisorProcess(launcher, bin == null ? Fixtures.supervisorBin() : bin, args, env, javaHome, control, rawStdout);
        }
    }

    private SupervisorProcess(List<String> launcher, Path bin, List<String> args, Map<String, String> env, Path javaHome, Path control,
            boolean rawStdout) {
        this.control = control;
        this.javaHome = javaHome;
        List<String> cmd = new ArrayList<>(launcher);
        cmd.add(bin.toString());
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        cleanEnvironment(pb.environment(), javaHome);
        pb.environment().putAll(env);
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + cmd, e);
        }
        tag = "[supervisor " + process.pid() + "] ";
        born = process.toHandle().info().startInstant().orElse(java.time.Instant.EPOCH);
        System.err.println(tag + "started: " + String.join(" ", cmd) + (javaHome == null ? "" : " (JAVA_HOME=" + javaHome + ")"));
        output.onLine(l -> {
            if (l.stream() == Output.Stream.STDERR) {
                Matcher started = STARTED.matcher(l.text());
                Matcher ended = ENDED.matcher(l.text());
                if (started.find()) {
                    workerPids.add(Long.parseLong(started.group(1)));
                } else if (ended.find()) {
                    workerPids.remove(Long.parseLong(ended.group(1)));
                }
            }
        });
        if (rawStdout) {
            output.ended(Output.Stream.STDOUT);
        } else {
            pump(process.getInputStream(), Output.Stream.STDOUT, System.out);
        }
        pump(process.getErrorStream(), Output.Stream.STDERR, System.err);
    }

    /** The supervisor's stdout, unread so far (with {@link Builder#rawStdout}). */
    InputStream rawStdout() {
        return process.getInputStream();
    }

    /**
     * The test JVM's environment minus what would change the supervisor's own output or runtime:
     * options the {@code java} launcher picks up (it prints "Picked up ..."), and JAVA_HOME unless
     * a JDK is asked for.
     */
    private static void cleanEnvironment(Map<String, String> env, Path javaHome) {
        env.remove("JDK_JAVA_OPTIONS");
        env.remove("JAVA_TOOL_OPTIONS");
        env.remove("_JAVA_OPTIONS");
        env.remove("SUPERVISOR_CONTROL");
        if (javaHome != null) {
            env.put("JAVA_HOME", javaHome.toString());
        }
    }

    private void pump(InputStream in, Output.Stream stream, PrintStream echo) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    echo.println(tag + line);
                    output.add(stream, line);
                }
            } catch (IOException e) {
                echo.println(tag + "(reading " + stream + " failed: " + e + ")");
            } finally {
                output.ended(stream);
            }
        }, "supervisor-" + process.pid() + "-" + stream);
        t.setDaemon(true);
        t.start();
    }

    public long pid() {
        return process.pid();
    }

    public ProcessHandle handle() {
        return process.toHandle();
    }

    public Output output() {
        return output;
    }

    public Path control() {
        return control;
    }

    /** Waits for a line on either stream that {@code regex} finds. */
    public Output.Match awaitLine(String regex, Duration timeout) {
        return output.await(0, null, Pattern.compile(regex), timeout);
    }

    /** Waits for such a line at or after index {@code from} (from {@link Output#size} or a previous match). */
    public Output.Match awaitLine(int from, String regex, Duration timeout) {
        return output.await(from, null, Pattern.compile(regex), timeout);
    }

    Output.Match awaitLine(String regex) {
        return awaitLine(regex, STARTUP);
    }

    /** The supervisor's own log lines (stderr, "supervisor: ..."), without worker output. */
    public List<String> supervisorLog() {
        List<String> out = new ArrayList<>();
        for (String l : output.lines(Output.Stream.STDERR)) {
            if (l.startsWith("supervisor: ")) {
                out.add(l);
            }
        }
        return out;
    }

    /** The port listener {@code name} was bound to, from its "listening NAME=tcp://HOST:PORT" line. */
    public int port(String name) {
        Output.Match m = awaitLine("^supervisor: listening " + Pattern.quote(name) + "=(?:tcp|udp)://(.+):(\\d+)$", STARTUP);
        return Integer.parseInt(m.group(2));
    }

    /** Waits for "generation G ready". */
    public Output.Match awaitReady(int generation) {
        return awaitLine("^supervisor: generation " + generation + " ready in \\d+ ms", STARTUP);
    }

    /** Sends signal {@code name} (TERM, HUP, KILL ...) to the supervisor. */
    public void signal(String name) {
        int rc = kill("-" + name, Long.toString(pid()));
        if (rc != 0) {
            throw new AssertionError("kill -" + name + " " + pid() + " failed (exit " + rc + "): is the supervisor gone?" + output.dump());
        }
    }

    /** Sends signal {@code name} to process {@code pid} (a worker, say); fails when there is no such process. */
    public static void signal(long pid, String name) {
        int rc = kill("-" + name, Long.toString(pid));
        if (rc != 0) {
            throw new AssertionError("kill -" + name + " " + pid + " failed (exit " + rc + ")");
        }
    }

    /** Waits for the supervisor to exit and for its output to end; its exit code. */
    public int awaitExit(Duration timeout) {
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("the supervisor (pid " + pid() + ") did not exit within " + timeout.toMillis() + " ms"
                        + output.dump());
            }
            if (!output.awaitEnd(Duration.ofSeconds(5))) {
                throw new AssertionError("the supervisor exited but its stdout/stderr stayed open: a child holds them" + output.dump());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
        return process.exitValue();
    }

    /** {@code supervisor status --json} for this supervisor, parsed. */
    public JsonNode status() {
        Cli r = cli("status", "--json", "--control", control.toString());
        assertEquals(0, r.exit(), "supervisor status --json: " + r);
        try {
            return JSON.readTree(r.stdout());
        } catch (IOException e) {
            throw new AssertionError("status --json printed no JSON: " + r, e);
        }
    }

    /** Pids of the workers {@code status --json} lists for generation {@code generation}. */
    public List<Long> workerPids(int generation) {
        List<Long> pids = new ArrayList<>();
        for (JsonNode g : status().path("generations")) {
            if (g.path("generation").asInt() == generation) {
                for (JsonNode w : g.path("workers")) {
                    pids.add(w.path("pid").asLong());
                }
            }
        }
        return pids;
    }

    /** The result of a CLI command such as {@code supervisor status}. */
    public record Cli(int exit, String stdout, String stderr) {}

    /** Runs {@code bin/supervisor ARGS} (on this supervisor's JDK) to completion, within 30 s. */
    public Cli cli(String... args) {
        return cli(Duration.ofSeconds(30), args);
    }

    /** {@link #cli(String...)} with another deadline, for a command that waits on JVM starts (an {@code upgrade}). */
    public Cli cli(Duration timeout, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Fixtures.supervisorBin().toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        cleanEnvironment(pb.environment(), javaHome);
        try {
            Path out = java.nio.file.Files.createTempFile("supervisor-cli", ".out");
            Path err = java.nio.file.Files.createTempFile("supervisor-cli", ".err");
            try {
                Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
                if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    p.destroyForcibly();
                    throw new AssertionError(String.join(" ", cmd) + " did not finish within " + timeout.toMillis() + " ms");
                }
                return new Cli(p.exitValue(), java.nio.file.Files.readString(out), java.nio.file.Files.readString(err));
            } finally {
                java.nio.file.Files.deleteIfExists(out);
                java.nio.file.Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /**
     * Kills the supervisor and everything it started: the processes below it now, and each
     * worker's own process group (workers are group leaders, and may have been orphaned by a
     * supervisor that already exited). A pid is only killed while it is alive and younger than
     * the supervisor, so a pid reused by an unrelated process is left alone.
     */
    @Override
    public void close() {
        List<ProcessHandle> below = process.toHandle().descendants().toList();
        if (process.isAlive()) {
            System.err.println(tag + "still running at the end of the test: killing it and its workers");
            process.destroyForcibly();
        }
        Set<Long> pids = new LinkedHashSet<>();
        synchronized (output) {
            pids.addAll(workerPids);
        }
        below.forEach(h -> pids.add(h.pid()));
        for (long pid : pids) {
            boolean ours = ProcessHandle.of(pid)
                    .filter(h -> h.isAlive() && !h.info().startInstant().orElse(java.time.Instant.EPOCH).isBefore(born))
                    .isPresent();
            if (ours) {
                kill("-KILL", "-" + pid); // its group, when it leads one
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            }
        }
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** kill(1) with these arguments, through sh's builtin (no "--" there); waits for it, returns its exit code. */
    private static int kill(String... args) {
        List<String> cmd = new ArrayList<>(List.of("/bin/sh", "-c", "kill \"$@\" 2>/dev/null", "kill"));
        cmd.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return -1;
            }
            return p.exitValue();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    @Override
    public String toString() {
        return "supervisor pid " + pid();
    }
}
