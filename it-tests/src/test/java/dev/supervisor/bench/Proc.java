package dev.supervisor.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.supervisor.protocol.Libc;


/**
 * A process the benchmark started: its merged stdout and stderr are copied to a log file and kept
 * in memory as lines stamped with the bench clock on arrival, so that the benchmark can wait for
 * a line (an event) instead of sleeping, and can read a server's own timeline afterwards.
 */
final class Proc implements AutoCloseable {
    /** One output line and when the benchmark read it ({@link Clock#nanos()}). */
    record Line(long nanos, String text) {}

    /** A line {@link #await} found: its position, its match and when it was read. */
    record Hit(int index, Matcher match, long nanos) {
        String group(int g) {
            return match.group(g);
        }
    }


    final String name;
    final Process process;
    private final List<Line> lines = new ArrayList<>();
    private final Thread reader;

    private Proc(String name, Process process, Path log) throws IOException {
        this.name = name;
        this.process = process;
        Writer out = Files.newBufferedWriter(log, StandardCharsets.UTF_8);
        this.reader = new Thread(() -> pump(out), "out-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Starts {@code cmd} in {@code dir} with {@code env} added to the bench's own environment. A
     * signal ignored by the bench (started under nohup, or as a background job: HUP, INT) would
     * stay ignored in every server it starts, and a JVM does not handle a signal it inherited as
     * ignored; so then the command runs through {@code env --default-signal}.
     */
    static Proc start(String name, List<String> cmd, Map<String, String> env, Path dir, Path log) throws IOException {
        List<String> full = new ArrayList<>();
        String ignored = ignoredSignals();
        if (!ignored.isEmpty()) {
            full.addAll(List.of("/usr/bin/env", "--default-signal=" + ignored, "--"));
        }
        full.addAll(cmd);
        ProcessBuilder pb = new ProcessBuilder(full).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().putAll(env);
        return new Proc(name, pb.start(), log);
    }

    /** The reload and stop signals this process ignores (from /proc/self/status SigIgn), as "HUP,INT", or "". */
    static String ignoredSignals() {
        long mask = 0;
        for (String l : Machine.read("/proc/self/status").split("\n")) {
            if (l.startsWith("SigIgn:")) {
                mask = Long.parseUnsignedLong(l.substring(7).strip(), 16);
            }
        }
        List<String> names = new ArrayList<>();
        String[] byNumber = {null, "HUP", "INT", null, null, null, null, null, null, null, "USR1", null, "USR2", null, null, "TERM"};
        for (int sig = 1; sig < byNumber.length; sig++) {
            if (byNumber[sig] != null && (mask & (1L << (sig - 1))) != 0) {
                names.add(byNumber[sig]);
            }
        }
        return String.join(",", names);
    }

    private void pump(Writer out) {
        try (out; BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String s; (s = in.readLine()) != null; ) {
                long now = Clock.nanos();
                out.write(s);
                out.write('\n');
                synchronized (lines) {
                    lines.add(new Line(now, s));
                    lines.notifyAll();
                }
            }
        } catch (IOException e) {
            // the process went away; its lines so far are kept
        } finally {
            synchronized (lines) {
                lines.add(null); // EOF marker
                lines.notifyAll();
            }
        }
    }

    long pid() {
        return process.pid();
    }

    /** How many lines have been read so far: a position for {@link #await}. */
    int mark() {
        synchronized (lines) {
            return lines.size();
        }
    }

    /**
     * Waits for the first line at or after position {@code from} that matches {@code p}.
     *
     * @throws BenchException when the process ends or {@code timeout} passes first
     */
    Hit await(Pattern p, int from, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        int i = from;
        synchronized (lines) {
            while (true) {
                for (; i < lines.size(); i++) {
                    Line l = lines.get(i);
                    if (l == null) {
                        throw new BenchException(name + " ended (exit " + exitCode() + ") before a line matching /" + p + "/; last lines:\n"
                                + tail(15));
                    }
                    Matcher m = p.matcher(l.text);
                    if (m.find()) {
                        return new Hit(i, m, l.nanos);
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new BenchException(name + ": no line matching /" + p + "/ within " + timeout.toMillis() + " ms; last lines:\n"
                            + tail(15));
                }
                try {
                    lines.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new BenchException("interrupted");
                }
            }
        }
    }

    /** Every line so far that matches {@code p}, with its time. */
    List<Line> matching(Pattern p) {
        List<Line> out = new ArrayList<>();
        synchronized (lines) {
            for (Line l : lines) {
                if (l != null && p.matcher(l.text).find()) {
                    out.add(l);
                }
            }
        }
        return out;
    }

    String tail(int n) {
        StringBuilder sb = new StringBuilder();
        synchronized (lines) {
            for (int i = Math.max(0, lines.size() - n); i < lines.size(); i++) {
                if (lines.get(i) != null) {
                    sb.append("  | ").append(lines.get(i).text).append('\n');
                }
            }
        }
        return sb.toString();
    }

    String exitCode() {
        return process.isAlive() ? "still running" : Integer.toString(process.exitValue());
    }

    void signal(int sig) {
        signal(process.pid(), sig);
    }

    static void signal(long pid, int sig) {
        Libc.daemon().kill((int) pid, sig);
    }

    /** TERM, then KILL (to the process and any process group it leads) if it has not exited by {@code grace}. */
    int stop(Duration grace) {
        if (process.isAlive()) {
            signal(Signals.TERM);
            try {
                if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                    process.descendants().forEach(ProcessHandle::destroyForcibly);
                    process.destroyForcibly();
                    process.waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            reader.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return process.isAlive() ? -1 : process.exitValue();
    }

    @Override
    public void close() {
        stop(Duration.ofSeconds(10));
    }

    /** Signal numbers (Linux x86_64 and aarch64). */
    static final class Signals {
        static final int HUP = 1, KILL = 9, USR1 = 10, USR2 = 12, TERM = 15;

        private Signals() {}
    }
}
