package dev.supervisor.daemon.upgrade;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.protocol.Message;

/**
 * Runs the installation an upgrade would execute, as a separate process in its check mode: the
 * launcher with the arguments the supervisor was started with and SUPERVISOR_UPGRADE_CHECK set,
 * the state to take over (without its fds) on stdin. It must start, load what the daemon loads,
 * take the state apart as the new image would, and say so on stdout within the timeout. Nothing
 * of the running supervisor is touched.
 */
public final class PreFlight {
    private PreFlight() {}

    /** Lines of the check's stderr quoted in a failure. */
    private static final int STDERR_LINES = 8;
    private static final int MAX_OUTPUT = 64 * 1024;

    /** What the check said: {@code failure} null when it passed. */
    public record Result(String failure, String version) {}

    /**
     * @param argv the launcher and the supervisor's arguments
     * @param started told the check's pid once it runs, {@code ended} once the JDK has reaped it:
     *     a child of ours that no worker started
     */
    public static Result run(List<String> argv, Map<String, String> env, byte[] state, Duration timeout, IntConsumer started,
            IntConsumer ended) {
        ProcessBuilder pb = new ProcessBuilder(argv);
        pb.environment().clear();
        pb.environment().putAll(env);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            return new Result("cannot run " + argv.get(0) + ": " + e.getMessage(), null);
        }
        int pid = (int) p.pid();
        started.accept(pid);
        try {
            feed(p.getOutputStream(), state);
            return await(p, argv.get(0), timeout);
        } finally {
            ended.accept(pid);
        }
    }

    /** Writes the state to the check's stdin on a thread of its own: a check that never reads it still times out. */
    private static void feed(OutputStream in, byte[] state) {
        Thread t = new Thread(() -> {
            try (in) {
                in.write(state);
            } catch (IOException ignored) {
                // the check ended without reading it all: its exit says why
            }
        }, "upgrade-check-input");
        t.setDaemon(true);
        t.start();
    }

    private static Result await(Process p, String launcher, Duration timeout) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread o = drain(p.getInputStream(), out);
        Thread e = drain(p.getErrorStream(), err);
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
                return new Result("the new installation's check (" + launcher + ") did not answer within " + timeout.toSeconds() + " s"
                        + quoted(err), null);
            }
            o.join(5_000);
            e.join(5_000);
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            return new Result("interrupted", null);
        }
        JsonNode a = lastAnswer(out);
        if (p.exitValue() != 0) {
            String said = a != null && a.has(Message.ERROR) ? ": " + a.get(Message.ERROR).asText() : "";
            return new Result("the new installation failed its check (" + launcher + " exited " + p.exitValue() + ")" + said + quoted(err),
                    null);
        }
        if (a == null) {
            return new Result("the new installation's check printed no answer" + quoted(err), null);
        }
        if (!a.path(Message.OK).asBoolean()) {
            return new Result("the new installation refused: " + a.path(Message.ERROR).asText(), null);
        }
        return new Result(null, a.path("version").asText("?"));
    }

    /** The last line of the check's stdout as an answer; null when it is none. */
    private static JsonNode lastAnswer(ByteArrayOutputStream out) {
        String last = out.toString(StandardCharsets.UTF_8).strip().lines().reduce((x, y) -> y).orElse("");
        try {
            return Message.parseAnswer(last);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static String quoted(ByteArrayOutputStream err) {
        List<String> lines = new ArrayList<>(err.toString(StandardCharsets.UTF_8).lines().filter(l -> !l.isBlank()).toList());
        if (lines.isEmpty()) {
            return "";
        }
        return ": " + String.join(" | ", lines.subList(Math.max(0, lines.size() - STDERR_LINES), lines.size()));
    }

    private static Thread drain(InputStream in, ByteArrayOutputStream to) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[8192];
            try (in) {
                for (int n; (n = in.read(buf)) > 0; ) {
                    synchronized (to) {
                        if (to.size() < MAX_OUTPUT) {
                            to.write(buf, 0, n);
                        }
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
