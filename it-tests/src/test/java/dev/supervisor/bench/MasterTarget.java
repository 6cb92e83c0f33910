package dev.supervisor.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A server with its own master process and its own reload signal: nginx (HUP), HAProxy in
 * master-worker mode (USR2) and gunicorn (HUP). Each binds its own loopback port, from its own
 * configuration in a temp directory. A reload is done when the master's log says so: HAProxy's
 * "Loading success.", or as many new workers started as a generation has (nginx's "start worker
 * process N", gunicorn's "Booting worker with pid: N"); the pids of the new workers are read from
 * those lines.
 */
final class MasterTarget implements Target {
    private final String name;
    private final Path dir;
    private final List<String> command;
    private final Map<String, String> env;
    private final int port;
    private final int reloadSignal;
    private final String signalName;
    /** A line naming one new worker's pid in group 1. */
    private final Pattern workerLine;
    private final int workersPerGeneration;
    /** When not null, the line that says a reload (or the start) is complete; else N worker lines. */
    private final Pattern doneLine;
    private final Pattern failLine;
    /** The master's line that says it took the signal; a signal not acknowledged within 1 s is sent again. */
    private Pattern ackLine;
    private Proc proc;
    private int reloads;
    /** Reload signals the master did not acknowledge and that were sent again. */
    int resent;

    private MasterTarget(String name, Path dir, List<String> command, Map<String, String> env, int port, int reloadSignal, String signalName,
            Pattern workerLine, int workersPerGeneration, Pattern doneLine, Pattern failLine) {
        this.name = name;
        this.dir = dir;
        this.command = command;
        this.env = env;
        this.port = port;
        this.reloadSignal = reloadSignal;
        this.signalName = signalName;
        this.workerLine = workerLine;
        this.workersPerGeneration = workersPerGeneration;
        this.doneLine = doneLine;
        this.failLine = failLine;
    }

    /** nginx, master + {@code workers} worker processes, answering {"pid":P} itself; reload = HUP. */
    static MasterTarget nginx(Path nginx, Path dir, int port, int workers) throws IOException {
        Files.createDirectories(dir.resolve("tmp"));
        Files.createDirectories(dir.resolve("logs"));
        Path conf = dir.resolve("nginx.conf");
        Files.writeString(conf, String.join("\n",
                "daemon off;",
                "master_process on;",
                "worker_processes " + workers + ";",
                "pid " + dir.resolve("nginx.pid") + ";",
                "error_log stderr notice;",
                "events { worker_connections 16384; }",
                "http {",
                "  access_log off;",
                "  client_body_temp_path " + dir.resolve("tmp/body") + ";",
                "  proxy_temp_path " + dir.resolve("tmp/proxy") + ";",
                "  fastcgi_temp_path " + dir.resolve("tmp/fastcgi") + ";",
                "  uwsgi_temp_path " + dir.resolve("tmp/uwsgi") + ";",
                "  scgi_temp_path " + dir.resolve("tmp/scgi") + ";",
                "  keepalive_timeout 65;",
                "  keepalive_requests 1000000;",
                "  server {",
                "    listen 127.0.0.1:" + port + " backlog=4096;",
                "    location / { default_type application/json; return 200 '{\"pid\":$pid}'; }",
                "  }",
                "}", ""));
        return new MasterTarget("nginx", dir, List.of(nginx.toString(), "-p", dir.toString(), "-c", conf.toString(), "-e", "stderr"), Map.of(),
                port, Proc.Signals.HUP, "SIGHUP", Pattern.compile("start worker process (\\d+)"), workers, null,
                Pattern.compile("\\[emerg\\]")).ack("signal 1 \\(SIGHUP\\) received");
    }

    /**
     * HAProxy in master-worker mode ({@code -W}), answering {"pid":P} itself; reload = USR2 to the
     * master, which re-executes and passes the listeners to the new worker over its socketpair
     * ({@code -x sockpair@}); the stats socket exposes the listeners as the documentation
     * recommends for seamless reloads, and {@code option idle-close-on-response} makes an old
     * worker answer an idle keep-alive connection's next request before closing it.
     */
    static MasterTarget haproxy(Path haproxy, Path dir, int port) throws IOException {
        Files.createDirectories(dir);
        Path conf = dir.resolve("haproxy.cfg");
        Files.writeString(conf, String.join("\n",
                "global",
                "    master-worker",
                "    stats socket " + dir.resolve("admin.sock") + " mode 600 level admin expose-fd listeners",
                "    maxconn 4096", // needs about 2 fds each; the run's limit may be 20000
                "defaults",
                "    mode http",
                "    timeout connect 5s",
                "    timeout client 65s",
                "    timeout server 65s",
                "    timeout http-keep-alive 65s",
                "    option idle-close-on-response",
                "frontend fe",
                "    bind 127.0.0.1:" + port,
                "    http-request return status 200 content-type application/json lf-string \"{\\\"pid\\\":%pid}\"",
                ""));
        return new MasterTarget("HAProxy", dir, List.of(haproxy.toString(), "-W", "-db", "-f", conf.toString()), Map.of(), port,
                Proc.Signals.USR2, "SIGUSR2", Pattern.compile("New worker \\((\\d+)\\) forked"), 1, Pattern.compile("Loading success"),
                Pattern.compile("Loading failure")).ack("Reloading HAProxy");
    }

    /**
     * gunicorn binding its own port, {@code workers} gthread workers (keep-alive needs a threaded
     * worker; the sync worker closes every connection), the tiny WSGI app; reload = HUP.
     */
    static MasterTarget gunicorn(Path gunicorn, Path dir, Path appDir, int port, int workers) throws IOException {
        Files.createDirectories(dir);
        return new MasterTarget("gunicorn", dir, gunicornCommand(gunicorn, appDir, workers, "127.0.0.1:" + port), Map.of(), port, Proc.Signals.HUP,
                "SIGHUP", Pattern.compile("Booting worker with pid: (\\d+)"), workers, null, Pattern.compile("Worker failed to boot|Shutting down: Master"))
                .ack("Handling signal: hup");
    }

    /** The same gunicorn command, with {@code --bind} only when {@code bind} is not null. */
    static List<String> gunicornCommand(Path gunicorn, Path appDir, int workers, String bind) {
        List<String> cmd = new ArrayList<>(List.of(gunicorn.toString(), "--chdir", appDir.toString(), "--workers", Integer.toString(workers),
                "--worker-class", "gthread", "--threads", "4", "--keep-alive", "65", "--backlog", "4096", "--log-level", "info"));
        if (bind != null) {
            cmd.add("--bind");
            cmd.add(bind);
        }
        cmd.add("bench_app:app");
        return cmd;
    }

    MasterTarget ack(String regex) {
        this.ackLine = Pattern.compile(regex);
        return this;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String reloadMethod() {
        return signalName + " to the master";
    }

    @Override
    public void start() throws IOException {
        Files.createDirectories(dir);
        proc = Proc.start(name, command, env, dir, dir.resolve(name + ".log"));
        awaitGeneration(0);
    }

    /** Waits for a generation's worth of workers (or the done line) after line {@code mark}; their pids. */
    private List<Integer> awaitGeneration(int mark) {
        Duration timeout = Duration.ofSeconds(30);
        List<Integer> pids = new ArrayList<>();
        Pattern either = Pattern.compile("(?:" + workerLine.pattern() + ")|(" + failLine.pattern() + ")" + (doneLine == null ? "" : "|(" + doneLine.pattern() + ")"));
        int from = mark;
        while (true) {
            Proc.Hit h = proc.await(either, from, timeout);
            from = h.index() + 1;
            if (h.group(2) != null) {
                throw new BenchException(name + " reload failed: " + h.group(0));
            }
            if (h.group(1) != null) {
                pids.add(Integer.parseInt(h.group(1)));
            }
            if (doneLine != null ? h.group(3) != null : pids.size() >= workersPerGeneration) {
                return pids;
            }
        }
    }

    @Override
    public InetSocketAddress address() {
        return new InetSocketAddress("127.0.0.1", port);
    }

    @Override
    public long pid() {
        return proc.pid();
    }

    @Override
    public Proc proc() {
        return proc;
    }

    @Override
    public Reload reload() {
        int index = reloads++;
        int mark = proc.mark();
        long t0 = Clock.nanos();
        Proc.signal(proc.pid(), reloadSignal);
        try {
            for (int attempt = 0; ackLine != null; attempt++) {
                try {
                    proc.await(ackLine, mark, Duration.ofSeconds(1));
                    break;
                } catch (BenchException e) {
                    if (attempt >= 3 || !proc.process.isAlive()) {
                        throw e;
                    }
                    resent++;
                    Bench.say("%s: the master did not take the reload signal within 1 s; sending it again", name);
                    Proc.signal(proc.pid(), reloadSignal);
                }
            }
            List<Integer> pids = awaitGeneration(mark);
            return new Reload(index, true, t0, Clock.nanos(), index + 2, pids, null);
        } catch (BenchException e) {
            return new Reload(index, false, t0, Clock.nanos(), -1, List.of(), e.getMessage());
        }
    }

    @Override
    public void close() {
        if (proc != null) {
            // a master that dies first may leave workers; none may outlive the run
            List<ProcessHandle> workers = proc.process.descendants().toList();
            proc.stop(Duration.ofSeconds(20));
            workers.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
        }
    }
}
