package dev.supervisor.it;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The harness of this package (SupervisorProcess, Output, Http, Load, Fixtures) is package-private;
 * this is its public face for the tests in sub-packages such as {@code dev.supervisor.it.reload}.
 * Delegation only, with no behaviour of its own: what a method does is what the harness method of
 * the same name does. Added beside the harness rather than changing it, so that the harness's
 * author keeps the only edits to those files; once the harness is public, this file goes.
 */
public final class PublicHarness {
    private PublicHarness() {}

    // ---- Fixtures ----

    public static Path supervisorBin() {
        return Fixtures.supervisorBin();
    }

    public static String python() {
        return Fixtures.python();
    }

    public static Path privateDir(Path dir) {
        return Fixtures.privateDir(dir);
    }

    public static Path jdk25() {
        return Fixtures.jdk25();
    }

    // ---- SupervisorProcess ----

    public static Builder run(Path controlDir) {
        return new Builder(SupervisorProcess.run(controlDir));
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

        public Builder env(String name, String value) {
            b.env(name, value);
            return this;
        }

        public Builder javaHome(Path home) {
            b.javaHome(home);
            return this;
        }

        public Builder bin(Path launcher) {
            b.bin(launcher);
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

    /** A line that matched: its index in the output (wait for later ones from index + 1) and its groups. */
    public record Match(int index, String text, List<String> groups) {
        public String group(int g) {
            return groups.get(g);
        }
    }

    /** The result of a CLI command. */
    public record Cli(int exit, String stdout, String stderr) {}

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

        /** How many output lines there are now: a mark for {@link #awaitLine(int, String, Duration)}. */
        public int outputSize() {
            return p.output().size();
        }

        /** Every line so far on both streams, as "out| ..." / "err| ...". */
        public List<String> outputLines() {
            List<String> out = new ArrayList<>();
            for (Output.Line l : p.output().lines()) {
                out.add(l.toString());
            }
            return out;
        }

        public String dump() {
            return p.output().dump();
        }

        public Match awaitLine(String regex, Duration timeout) {
            return match(p.awaitLine(regex, timeout));
        }

        public Match awaitLine(int from, String regex, Duration timeout) {
            return match(p.awaitLine(from, regex, timeout));
        }

        public List<String> supervisorLog() {
            return p.supervisorLog();
        }

        public int port(String name) {
            return p.port(name);
        }

        public Match awaitReady(int generation) {
            return match(p.awaitReady(generation));
        }

        public void signal(String name) {
            p.signal(name);
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

        public Cli cli(String... args) {
            SupervisorProcess.Cli c = p.cli(args);
            return new Cli(c.exit(), c.stdout(), c.stderr());
        }

        @Override
        public void close() {
            p.close();
        }

        @Override
        public String toString() {
            return p.toString();
        }

        private static Match match(Output.Match m) {
            List<String> groups = new ArrayList<>();
            for (int i = 0; i <= m.matcher().groupCount(); i++) {
                groups.add(m.group(i));
            }
            return new Match(m.index(), m.line().text(), groups);
        }
    }

    /** Sends signal {@code name} to process {@code pid}. */
    public static void signal(long pid, String name) {
        SupervisorProcess.signal(pid, name);
    }

    // ---- Http ----

    public record Response(int status, Map<String, String> headers, String body) {}

    public static Response get(int port, String path) throws IOException {
        return response(Http.get(port, path));
    }

    public static java.util.concurrent.CompletableFuture<Response> getAsync(int port, String path) {
        return Http.getAsync(port, path).thenApply(PublicHarness::response);
    }

    public static Duration httpReadTimeout() {
        return Http.READ_TIMEOUT;
    }

    private static Response response(Http.Response r) {
        return new Response(r.status(), r.headers(), r.body());
    }

    // ---- Load ----

    public static LoadSpec load(int port, String path) {
        return new LoadSpec(Load.against(port, path));
    }

    public static final class LoadSpec {
        private final Load l;

        private LoadSpec(Load l) {
            this.l = l;
        }

        public LoadSpec threads(int n) {
            l.threads(n);
            return this;
        }

        public LoadSpec requests(int n) {
            l.requests(n);
            return this;
        }

        public LoadSpec deadline(Duration d) {
            l.deadline(d);
            return this;
        }

        /** Counts answers by {@code f(response)}; {@code f} runs on the load thread that got the answer. */
        public LoadSpec countBy(Function<Response, String> f) {
            l.countBy(r -> f.apply(response(r)));
            return this;
        }

        public LoadResult run() throws InterruptedException {
            return result(l.run());
        }

        public LoadRun start() {
            return new LoadRun(l.start());
        }
    }

    public static final class LoadRun {
        private final Load.Running r;

        private LoadRun(Load.Running r) {
            this.r = r;
        }

        public int answered() {
            return r.answered();
        }

        public LoadResult stop() throws InterruptedException {
            return result(r.stop());
        }

        public LoadResult await() throws InterruptedException {
            return result(r.await());
        }
    }

    /** What a load saw; failures by the names of {@code Load.Failure}. */
    public record LoadResult(int answered, int failed, Map<String, Integer> failures, Map<String, Integer> byKey, List<String> samples,
            Duration took, Duration maxLatency, String text) {
        @Override
        public String toString() {
            return text;
        }
    }

    private static LoadResult result(Load.Result r) {
        Map<String, Integer> f = new LinkedHashMap<>();
        r.failures().forEach((k, v) -> f.put(k.name(), v));
        return new LoadResult(r.answered(), r.failed(), f, r.byKey(), r.samples(), r.took(), r.maxLatency(), r.toString());
    }
}
