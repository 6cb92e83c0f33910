package dev.supervisor.daemon.upgrade;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.protocol.Message;

/**
 * Runs the installation an upgrade would execute, as a separate process in its check mode
 * ({@code supervisor upgrade-check --state-format N}): it must start, load what the daemon loads
 * (the native binding included), accept the state format, and say so on stdout within the timeout.
 * Nothing of the running supervisor is touched.
 */
public final class PreFlight {
    private PreFlight() {}

    /** The subcommand of the check mode. */
    public static final String COMMAND = "upgrade-check";
    public static final String FORMAT_OPTION = "--state-format";
    /** Lines of the check's stderr quoted in a failure. */
    private static final int STDERR_LINES = 8;

    /** What the check said. */
    public static final class Result {
        /** Null when it passed. */
        public final String failure;
        public final String version;

        Result(String failure, String version) {
            this.failure = failure;
            this.version = version;
        }
    }

    public static Result run(String launcher, Map<String, String> env, Duration timeout) {
        ProcessBuilder pb = new ProcessBuilder(launcher, COMMAND, FORMAT_OPTION, Integer.toString(State.FORMAT));
        pb.environment().clear();
        pb.environment().putAll(env);
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            return new Result("cannot run " + launcher + ": " + e.getMessage(), null);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread o = drain(p.getInputStream(), out);
        Thread e = drain(p.getErrorStream(), err);
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
                return new Result(launcher + " " + COMMAND + " did not answer within " + timeout.toSeconds() + " s" + quoted(err), null);
            }
            o.join(5_000);
            e.join(5_000);
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            return new Result("interrupted", null);
        }
        String stdout = out.toString(StandardCharsets.UTF_8).strip();
        if (p.exitValue() != 0) {
            String said = answerError(stdout);
            return new Result("the new installation failed its check (" + launcher + " " + COMMAND + " exited " + p.exitValue() + ")"
                    + (said != null ? ": " + said : "") + quoted(err), null);
        }
        JsonNode a;
        try {
            a = Message.parseAnswer(stdout.lines().reduce((x, y) -> y).orElse(""));
        } catch (IllegalArgumentException ex) {
            return new Result("the new installation's check printed no answer (" + ex.getMessage() + ")" + quoted(err), null);
        }
        if (!a.path(Message.OK).asBoolean()) {
            return new Result("the new installation refused: " + a.path(Message.ERROR).asText(), null);
        }
        return new Result(null, a.path("version").asText("?"));
    }

    private static String answerError(String stdout) {
        try {
            JsonNode a = Message.parseAnswer(stdout.lines().reduce((x, y) -> y).orElse(""));
            return a.has(Message.ERROR) ? a.get(Message.ERROR).asText() : null;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static String quoted(ByteArrayOutputStream err) {
        List<String> lines = new ArrayList<>(err.toString(StandardCharsets.UTF_8).lines().toList());
        if (lines.isEmpty()) {
            return "";
        }
        List<String> last = lines.subList(Math.max(0, lines.size() - STDERR_LINES), lines.size());
        return ": " + String.join(" | ", last);
    }

    private static Thread drain(InputStream in, ByteArrayOutputStream to) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[8192];
            try (in) {
                for (int n; (n = in.read(buf)) > 0; ) {
                    if (to.size() < 64 * 1024) {
                        to.write(buf, 0, n);
                    }
                }
            } catch (IOException ignored) {
                // the check ended
            }
        }, "upgrade-check-output");
        t.setDaemon(true);
        t.start();
        return t;
    }
}
