package dev.supervisor.it;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The package-private harness ({@link SupervisorProcess}, {@link Http}, {@link Fixtures}) as a
 * public API for the tests in {@code dev.supervisor.it.security}, which live in their own package.
 * Only delegation: what a method does is what the harness method of the same name does.
 */
public final class SecurityHarness {
    private SecurityHarness() {}

    public static Builder run(Path controlDir) {
        return new Builder(SupervisorProcess.run(controlDir));
    }

    public static Path supervisorBin() {
        return Fixtures.supervisorBin();
    }

    public static String python() {
        return Fixtures.python();
    }

    public static List<String> worker(String... args) {
        return Fixtures.worker(args);
    }

    /** One HTTP/1.0 GET to 127.0.0.1:port: status and body. */
    public static Answer get(int port, String path) throws IOException {
        Http.Response r = Http.get(port, path);
        return new Answer(r.status(), r.body());
    }

    public record Answer(int status, String body) {}

    public record Cli(int exit, String stdout, String stderr) {}

    /** A line that matched: where (wait for later ones from {@code index + 1}) and its groups. */
    public record Line(int index, String[] groups) {
        public String group(int i) {
            return groups[i];
        }
    }

    public static final class Builder {
        private final SupervisorProcess.Builder b;

        private Builder(SupervisorProcess.Builder b) {
            this.b = b;
        }

        public Builder listen(String name, String address) {
            b.listen(name, address);
            return this;
        }

        public Builder workers(int n) {
            b.workers(n);
            return this;
        }

        public Builder readyNotify() {
            b.readyNotify();
            return this;
        }

        public Builder option(String... args) {
            b.option(args);
            return this;
        }

        public Builder command(List<String> cmd) {
            b.command(cmd);
            return this;
        }

        public Builder command(String... cmd) {
            b.command(cmd);
            return this;
        }

        public Builder env(String name, String value) {
            b.env(name, value);
            return this;
        }

        public Builder javaHome(Path home) {
            b.javaHome(home);
            return this;
        }

        public Builder rawArgs(String... args) {
            b.rawArgs(args);
            return this;
        }

        public Supervisor start() {
            return new Supervisor(b.start());
        }
    }

    /** A started supervisor: {@link SupervisorProcess}'s methods. */
    public static final class Supervisor implements AutoCloseable {
        private final SupervisorProcess p;

        private Supervisor(SupervisorProcess p) {
            this.p = p;
        }

        public long pid() {
            return p.pid();
        }

        public ProcessHandle handle() {
            return p.handle();
        }

        public Path control() {
            return p.control();
        }

        public int port(String name) {
            return p.port(name);
        }

        /** Index of the next line, to wait for what comes after now. */
        public int mark() {
            return p.output().size();
        }

        /** The first line at or after index {@code from} that {@code regex} finds: its index and groups. */
        public Line awaitLine(int from, String regex, Duration timeout) {
            Output.Match m = p.awaitLine(from, regex, timeout);
            String[] groups = new String[m.matcher().groupCount() + 1];
            for (int i = 0; i < groups.length; i++) {
                groups[i] = m.group(i);
            }
            return new Line(m.index(), groups);
        }

        public Line awaitLine(String regex) {
            return awaitLine(0, regex, SupervisorProcess.STARTUP);
        }

        public void awaitReady(int generation) {
            p.awaitReady(generation);
        }

        public void signal(String name) {
            p.signal(name);
        }

        public static void signal(long pid, String name) {
            SupervisorProcess.signal(pid, name);
        }

        public int awaitExit(Duration timeout) {
            return p.awaitExit(timeout);
        }

        public JsonNode status() {
            return p.status();
        }

        public List<Long> workerPids(int generation) {
            return p.workerPids(generation);
        }

        public List<String> supervisorLog() {
            return p.supervisorLog();
        }

        public Cli cli(String... args) {
            SupervisorProcess.Cli c = p.cli(args);
            return new Cli(c.exit(), c.stdout(), c.stderr());
        }

        /** The output so far, for a failure message. */
        public String dump() {
            return p.output().dump();
        }

        @Override
        public void close() {
            p.close();
        }

        @Override
        public String toString() {
            return p.toString();
        }
    }
}
