package dev.supervisor.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * The supervisor at scale: 1,000 listeners; 64 workers a generation; 10,000 connections held by
 * a draining generation while the new one serves; a storm of 100 reload requests.
 */
final class Scale {
    private Scale() {}

    // ---- 1,000 listeners ----

    /** A python worker that serves every inherited listener: "ok" and X-Gen, one request per connection; READY=1 when it accepts. */
    static final String MULTI_PY = String.join("\n",
            "import os, signal, socket, selectors",
            "n = int(os.environ['LISTEN_FDS'])",
            "assert os.environ['LISTEN_PID'] == str(os.getpid())",
            "gen = os.environ.get('SUPERVISOR_GENERATION', '0')",
            "resp = ('HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\nX-Gen: %s\\r\\n\\r\\nok' % gen).encode()",
            "sel = selectors.DefaultSelector()",
            "for i in range(n):",
            "    s = socket.socket(fileno=3 + i)",
            "    s.setblocking(False)",
            "    sel.register(s, selectors.EVENT_READ)",
            "stop = []",
            "signal.signal(signal.SIGTERM, lambda *a: stop.append(1))",
            "ns = os.environ.get('NOTIFY_SOCKET')",
            "if ns:",
            "    u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
            "    u.sendto(b'READY=1', ns)",
            "while not stop:",
            "    for key, _ in sel.select(0.2):",
            "        try:",
            "            c, _ = key.fileobj.accept()",
            "        except (BlockingIOError, InterruptedError):",
            "            continue",
            "        c.setblocking(True)",
            "        c.settimeout(5)",
            "        try:",
            "            c.recv(4096)",
            "            c.sendall(resp)",
            "        except OSError:",
            "            pass",
            "        c.close()",
            "");

    static ObjectNode listeners(Bench b) throws Exception {
        Bench.Options o = b.options();
        int count = o.quick ? 50 : 1000;
        Path python = Tools.require("python3");
        Path dir = b.dir("scale-listeners");
        Path script = dir.resolve("multi.py");
        Files.writeString(script, MULTI_PY);
        List<String> opts = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            opts.add("-l");
            opts.add("l" + i + "=127.0.0.1:0");
        }
        opts.addAll(List.of("--ready", "notify", "--drain-timeout", "10s"));
        ObjectNode n = Bench.object();
        n.put("listeners", count);
        int reloads = o.quick ? 2 : 5;
        try (SupervisorTarget s = new SupervisorTarget("supervisor, " + count + " listeners", o.home, dir, "run", opts, List.of(python.toString(),
                script.toString()), b.launcherEnv(b.defaultJdk()))) {
            long t0 = Clock.nanos();
            s.start();
            n.put("start_to_generation_1_ready_ms", Stats.round((Clock.nanos() - t0) / 1e6));
            if (s.ports().size() != count) {
                throw new BenchException("expected " + count + " listening lines, got " + s.ports().size());
            }
            List<Integer> ports = new ArrayList<>(s.ports().values());
            int[] first = hitAll(ports, 1);
            n.put("answered_every_listener_before", first[0]);
            n.put("failed_before", first[1]);
            // reloads while clients go round every listener
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong ok = new AtomicLong();
            AtomicLong failed = new AtomicLong();
            Thread load = new Thread(() -> {
                int i = 0;
                while (!stop.get()) {
                    if (get(ports.get(i++ % ports.size())) >= 0) {
                        ok.incrementAndGet();
                    } else {
                        failed.incrementAndGet();
                    }
                }
            });
            load.start();
            List<Double> done = new ArrayList<>();
            int okReloads = 0;
            for (int i = 0; i < reloads; i++) {
                Target.Reload r = s.reload();
                if (r.ok()) {
                    okReloads++;
                    done.add(r.durationNanos() / 1e6);
                }
            }
            stop.set(true);
            load.join();
            int[] after = hitAll(ports, 1 + okReloads);
            n.put("reloads", reloads);
            n.put("reloads_ok", okReloads);
            Stats.of(done).json(n.putObject("reload_done_ms"));
            n.put("requests_during_reloads", ok.get() + failed.get());
            n.put("failed_during_reloads", failed.get());
            n.put("answered_every_listener_after_by_newest_generation", after[0]);
            n.put("failed_after", after[1]);
            timeline(s, n);
            n.put("supervisor_rss_mib", Stats.round(Machine.rssKb(s.pid()) / 1024.0));
            n.put("supervisor_fds", Machine.fds(s.pid()));
            n.put("exit_code", s.stop());
        }
        Bench.say("scale-listeners: %s", n);
        return n;
    }

    /** One request to every port, 16 at a time: {answered by generation gen, failed}. */
    static int[] hitAll(List<Integer> ports, int gen) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try {
            List<Future<Integer>> fs = new ArrayList<>();
            for (int p : ports) {
                fs.add(pool.submit(() -> get(p)));
            }
            int ok = 0;
            int failed = 0;
            for (Future<Integer> f : fs) {
                int g = f.get();
                if (g == gen) {
                    ok++;
                } else if (g < 0) {
                    failed++;
                }
            }
            return new int[] {ok, failed};
        } finally {
            pool.shutdownNow();
        }
    }

    /** GET / on a fresh connection: the X-Gen (or "generation") of the answer, 0 when it names none, -1 when it failed. */
    static int get(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            String text = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
            if (!text.startsWith("HTTP/1.1 200")) {
                return -1;
            }
            int h = text.toLowerCase(Locale.ROOT).indexOf("\r\nx-gen:");
            if (h >= 0) {
                return LoadGen.number(text, h + 8);
            }
            int g = text.indexOf("\"generation\":");
            return g >= 0 ? Math.max(0, LoadGen.number(text, g + 13)) : 0;
        } catch (IOException e) {
            return -1;
        }
    }

    private static void timeline(SupervisorTarget s, ObjectNode n) {
        List<Double> total = new ArrayList<>();
        List<Double> worker = new ArrayList<>();
        List<Double> over = new ArrayList<>();
        for (SupervisorTarget.Generation g : s.timeline().values()) {
            if (g.number() > 1 && g.readyMs() >= 0) {
                total.add((double) g.readyMs());
                worker.add((double) g.workerMs());
                over.add(g.overheadMs());
            }
        }
        Stats.of(total).json(n.putObject("request_to_ready_ms"));
        Stats.of(worker).json(n.putObject("slowest_worker_ms"));
        Stats.of(over).json(n.putObject("overhead_ms"));
    }

    // ---- 64 workers ----

    static ObjectNode workers(Bench b) throws Exception {
        Bench.Options o = b.options();
        int workers = o.quick ? 4 : 64;
        int reloads = o.quick ? 2 : 5;
        SupervisorTarget t = b.supervisorLighttpd("scale-workers", workers).readyTimeout(Duration.ofSeconds(120));
        ReloadRun r = ReloadRun.run(t, reloads, quiet(o));
        ObjectNode n = r.analyze();
        n.put("workers_per_generation", workers);
        b.report().runs.put("scale-workers", r);
        return n;
    }

    private static Bench.Options quiet(Bench.Options o) {
        Bench.Options q = new Bench.Options();
        q.quick = o.quick;
        q.steady = Duration.ofSeconds(o.quick ? 1 : 3);
        q.gap = Duration.ofMillis(200);
        q.spacedReloads = 0;
        q.clients = o.clients;
        q.rate = o.rate;
        return q;
    }

    // ---- 10,000 held connections ----

    static ObjectNode held(Bench b) throws Exception {
        Bench.Options o = b.options();
        int count = o.quick ? 200 : 10_000;
        Path jdk = b.defaultJdk();
        Path java = jdk == null ? Path.of("java") : jdk.resolve("bin/java");
        Path dir = b.dir("scale-held");
        // The demo worker itself, with room for 10,000 connections' buffers (16 KiB each).
        List<String> demo = List.of(java.toString(), "-XX:+UseSerialGC", "-Xmx512m", "-XX:TieredStopAtLevel=1", "-cp", o.home.resolve("lib") + "/*",
                "dev.supervisor.demo.DemoWorker");
        ObjectNode n = Bench.object();
        n.put("held_connections", count);
        long sleepMs = o.quick ? 4000 : 12_000;
        n.put("held_request", "GET /?sleep=" + sleepMs + " (keep-alive), sent to generation 1 before the reload");
        try (SupervisorTarget s = new SupervisorTarget("supervisor, " + count + " held", o.home, dir, "run", List.of("-l", "http=127.0.0.1:0", "--ready",
                "notify", "--drain-timeout", "60s"), demo, b.launcherEnv(jdk));
                HeldClients held = new HeldClients()) {
            s.start();
            InetSocketAddress addr = s.address();
            long worker1 = s.status().path("generations").get(0).path("workers").get(0).path("pid").asLong();
            int baseFds = Machine.fds(worker1);
            long t0 = Clock.nanos();
            held.open(addr, count, "/?sleep=" + sleepMs);
            // wait until generation 1 holds them all (its fd count; there is no event for it)
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (Machine.fds(worker1) - baseFds < count && System.nanoTime() < deadline) {
                ReloadRun.park(Duration.ofMillis(20));
            }
            n.put("connections_accepted_by_generation_1", Machine.fds(worker1) - baseFds);
            n.put("open_ms", Stats.round((Clock.nanos() - t0) / 1e6));
            Target.Reload r = s.reload();
            n.put("reload_ok", r.ok());
            n.put("reload_done_ms", Stats.round(r.durationNanos() / 1e6));
            JsonNode st = s.status();
            ArrayNode states = n.putArray("generations_after_reload");
            for (JsonNode g : st.path("generations")) {
                states.add("generation " + g.path("generation").asInt() + " " + g.path("state").asText() + " (" + g.path("workers").size() + " worker)");
            }
            n.put("fds_held_by_draining_generation", Machine.fds(worker1) - baseFds);
            // new connections meanwhile: served by generation 2
            LoadGen.Spec spec = new LoadGen.Spec();
            spec.target = addr;
            spec.freshClients = o.clients;
            spec.keepAliveClients = o.clients;
            spec.rate = o.rate;
            LoadGen load = LoadGen.start(spec);
            ReloadRun.park(Duration.ofSeconds(o.quick ? 1 : 3));
            n.put("supervisor_rss_mib_while_held", Stats.round(Machine.rssKb(s.pid()) / 1024.0));
            Samples smp = load.stop();
            int byNew = 0;
            int fails = 0;
            double[] lat = new double[smp.size];
            int k = 0;
            for (int i = 0; i < smp.size; i++) {
                if (smp.failed(i)) {
                    fails++;
                } else {
                    lat[k++] = smp.latencyUs[i] / 1000.0;
                    if (smp.gen[i] == 2) {
                        byNew++;
                    }
                }
            }
            n.put("new_requests_while_held", smp.size);
            n.set("outcomes", smp.outcomes());
            n.put("new_requests_answered_by_generation_2", byNew);
            n.put("new_requests_failed", fails);
            Stats.of(lat, k).json(n.putObject("new_requests_latency_ms"));
            // the held requests: every one answered by generation 1, with Connection: close
            int[] res = held.await(Duration.ofMillis(sleepMs + 60_000));
            n.put("held_answered_by_generation_1", res[0]);
            n.put("held_answered_with_connection_close", res[1]);
            n.put("held_failed", res[2]);
            Proc.Hit exited = s.proc().await(Pattern.compile("^supervisor: generation 1 exited"), 0, Duration.ofSeconds(60));
            n.put("generation_1_exited_ms_after_reload", Stats.round((exited.nanos() - r.doneNanos()) / 1e6));
            n.put("exit_code", s.stop());
        }
        Bench.say("scale-held: %s", n);
        return n;
    }

    // ---- a storm of 100 reload requests ----

    static ObjectNode storm(Bench b) throws Exception {
        Bench.Options o = b.options();
        int size = o.quick ? 10 : 100;
        int storms = o.quick ? 1 : 20;
        ObjectNode n = Bench.object();
        n.put("requests_per_storm", size);
        n.put("storms", storms);
        try (SupervisorTarget s = b.supervisorLighttpd("scale-storm", 2)) {
            s.start();
            LoadGen.Spec spec = new LoadGen.Spec();
            spec.target = s.address();
            spec.freshClients = o.clients;
            spec.keepAliveClients = o.clients;
            spec.rate = o.rate;
            LoadGen load = LoadGen.start(spec);
            ArrayNode rss = n.putArray("supervisor_rss_mib_before_and_after_each_storm");
            rss.add(Stats.round(Machine.rssKb(s.pid()) / 1024.0));
            n.put("live_heap_kib_before", liveHeapKb(b, s.pid()));
            ArrayNode per = n.putArray("per_storm");
            int maxLive = 0;
            int maxAll = 0;
            for (int k = 0; k < storms; k++) {
                AtomicBoolean polling = new AtomicBoolean(true);
                AtomicInteger live = new AtomicInteger();
                AtomicInteger all = new AtomicInteger();
                Thread poller = new Thread(() -> {
                    while (polling.get()) {
                        JsonNode st = s.status();
                        int l = 0;
                        for (JsonNode g : st.path("generations")) {
                            String state = g.path("state").asText();
                            if (state.equals("STARTING") || state.equals("READY")) {
                                l++;
                            }
                        }
                        live.accumulateAndGet(l, Math::max);
                        all.accumulateAndGet(st.path("generations").size(), Math::max);
                    }
                });
                poller.start();
                int before = s.status().path("serving").asInt();
                ExecutorService pool = Executors.newFixedThreadPool(size);
                List<Future<JsonNode>> answers = new ArrayList<>();
                long t0 = Clock.nanos();
                for (int i = 0; i < size; i++) {
                    answers.add(pool.submit(() -> Control.request(s.control(), "reload", Duration.ofSeconds(120))));
                }
                int ok = 0;
                int newest = 0;
                int lastAnswer = -1;
                for (Future<JsonNode> f : answers) {
                    JsonNode a = f.get();
                    if (a.path("ok").asBoolean()) {
                        ok++;
                        newest = Math.max(newest, a.path("generation").asInt());
                    }
                }
                long t1 = Clock.nanos();
                pool.shutdown();
                polling.set(false);
                poller.join();
                int after = s.status().path("serving").asInt();
                // wait for the drained generations to exit, then read RSS
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (s.status().path("generations").size() > 1 && System.nanoTime() < deadline) {
                    ReloadRun.park(Duration.ofMillis(20));
                }
                rss.add(Stats.round(Machine.rssKb(s.pid()) / 1024.0));
                ObjectNode pj = per.addObject();
                pj.put("answered_ok", ok);
                pj.put("generations_started", after - before);
                pj.put("serving_after", after);
                pj.put("newest_answered", newest);
                pj.put("max_generations_starting_or_ready", live.get());
                pj.put("max_generations_listed", all.get());
                pj.put("storm_ms", Stats.round((t1 - t0) / 1e6));
                maxLive = Math.max(maxLive, live.get());
                maxAll = Math.max(maxAll, all.get());
                Bench.say("scale-storm %d: %s", k + 1, pj);
            }
            Samples smp = load.stop();
            n.put("live_heap_kib_after", liveHeapKb(b, s.pid()));
            n.put("supervisor_threads_after", Machine.threads(s.pid()));
            int fails = 0;
            for (int i = 0; i < smp.size; i++) {
                if (smp.failed(i)) {
                    fails++;
                }
            }
            n.put("requests_during_storms", smp.size);
            n.set("outcomes", smp.outcomes());
            n.put("failed_during_storms", fails);
            n.put("max_generations_starting_or_ready", maxLive);
            n.put("max_generations_listed", maxAll);
            n.put("exit_code", s.stop());
        }
        return n;
    }

    /**
     * The supervisor's live heap: {@code jcmd PID GC.run} (twice), then the "used" of every heap
     * generation in {@code GC.heap_info} (KiB), or -1 when jcmd is not there.
     */
    static long liveHeapKb(Bench b, long pid) {
        Path jdk = b.defaultJdk();
        Path jcmd = jdk == null ? null : jdk.resolve("bin/jcmd");
        if (jcmd == null || !Files.isExecutable(jcmd)) {
            return -1;
        }
        // twice: objects with finalizers (jnr's native memory) need a second collection
        Tools.firstLine(List.of(jcmd.toString(), Long.toString(pid), "GC.run"));
        Tools.firstLine(List.of(jcmd.toString(), Long.toString(pid), "GC.run"));
        try {
            Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), "GC.heap_info").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            p.waitFor();
            long used = 0;
            java.util.regex.Matcher m = Pattern.compile("(?m)^ \\S.*generation\\s+total \\d+K, used (\\d+)K").matcher(out);
            while (m.find()) {
                used += Long.parseLong(m.group(1));
            }
            return used;
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    static void markdown(JsonNode sc, StringBuilder md) {
        JsonNode l = sc.path("scale-listeners");
        JsonNode w = sc.path("scale-workers");
        JsonNode h = sc.path("scale-held");
        JsonNode s = sc.path("scale-storm");
        if (!l.has("listeners") && !w.has("workers_per_generation") && !h.has("held_connections") && !s.has("storms")) {
            return;
        }
        md.append("### Scale\n\n| scenario | result |\n|---|---|\n");
        if (l.has("listeners")) {
            md.append(String.format(Locale.ROOT, "| %d listeners (python worker serving all) | start to gen 1 ready %.0f ms; every listener answered before (%d) and "
                    + "after %d reloads by the newest generation (%d), %d failed of %d requests during the reloads; reload done p50 %s ms; overhead "
                    + "p50 / max %s / %s ms; supervisor RSS %.1f MiB, %d fds |\n", l.path("listeners").asInt(),
                    l.path("start_to_generation_1_ready_ms").asDouble(), l.path("answered_every_listener_before").asInt(), l.path("reloads_ok").asInt(),
                    l.path("answered_every_listener_after_by_newest_generation").asInt(), l.path("failed_during_reloads").asLong(),
                    l.path("requests_during_reloads").asLong(), Stats.fmt(l.path("reload_done_ms").path("p50").asDouble(), 0),
                    Stats.fmt(l.path("overhead_ms").path("p50").asDouble(), 2), Stats.fmt(l.path("overhead_ms").path("max").asDouble(), 2),
                    l.path("supervisor_rss_mib").asDouble(), l.path("supervisor_fds").asInt()));
        }
        if (w.has("workers_per_generation")) {
            JsonNode t = w.path("supervisor_timeline");
            md.append(String.format(Locale.ROOT, "| %d lighttpd workers a generation | %d reloads under load, failed fresh %s, keep-alive %s; request to ready p50 %s ms "
                    + "(slowest worker %s ms), overhead p50 / max %s / %s ms for spawning %d workers |\n", w.path("workers_per_generation").asInt(),
                    w.path("reloads_ok").asInt(), Report.failedCell(w.path("modes").path("fresh")), Report.failedCell(w.path("modes").path("keepalive")),
                    Stats.fmt(t.path("request_to_ready_ms").path("p50").asDouble(), 0), Stats.fmt(t.path("slowest_worker_start_to_ready_ms").path("p50")
                            .asDouble(), 0), Stats.fmt(t.path("overhead_ms").path("p50").asDouble(), 2), Stats.fmt(t.path("overhead_ms").path("max")
                                    .asDouble(), 2), w.path("workers_per_generation").asInt()));
        }
        if (h.has("held_connections")) {
            md.append(String.format(Locale.ROOT, "| %d connections held by a draining generation (demo worker, %s) | gen 1 had accepted %d; reload done in %.0f ms; "
                    + "while gen 1 drained, %d new requests: %d answered by gen 2, %d failed, latency p50 / p99 / max %s ms; held: %d answered by gen 1 "
                    + "(%d with Connection: close), %d failed; gen 1 exited %.0f ms after the reload; supervisor RSS %.1f MiB |\n",
                    h.path("held_connections").asInt(), h.path("held_request").asText(), h.path("connections_accepted_by_generation_1").asInt(),
                    h.path("reload_done_ms").asDouble(), h.path("new_requests_while_held").asInt(), h.path("new_requests_answered_by_generation_2").asInt(),
                    h.path("new_requests_failed").asInt(), Report.triple(h.path("new_requests_latency_ms")), h.path("held_answered_by_generation_1").asInt(),
                    h.path("held_answered_with_connection_close").asInt(), h.path("held_failed").asInt(), h.path("generation_1_exited_ms_after_reload")
                            .asDouble(), h.path("supervisor_rss_mib_while_held").asDouble()));
        }
        if (s.has("storms")) {
            int ok = 0;
            List<Integer> merged = new ArrayList<>();
            for (JsonNode p : s.path("per_storm")) {
                ok += p.path("answered_ok").asInt();
                merged.add(p.path("generations_started").asInt());
            }
            String per = ok + " of " + s.path("storms").asInt() * s.path("requests_per_storm").asInt() + " requests answered ok, each storm merged "
                    + "into " + merged.stream().mapToInt(Integer::intValue).min().orElse(0) + " to " + merged.stream().mapToInt(Integer::intValue).max()
                            .orElse(0) + " new generations; live heap after a full GC " + s.path("live_heap_kib_before").asLong() + " KiB before, "
                    + s.path("live_heap_kib_after").asLong() + " KiB after";
            md.append(String.format(Locale.ROOT, "| %d storms of %d reload requests at once (lighttpd) | %s; generations STARTING or READY at most %d, listed at most %d; "
                    + "%d failed of %d requests under load (%s); supervisor RSS MiB before and after each storm %s |\n", s.path("storms").asInt(),
                    s.path("requests_per_storm").asInt(), per, s.path("max_generations_starting_or_ready").asInt(), s.path("max_generations_listed").asInt(),
                    s.path("failed_during_storms").asInt(), s.path("requests_during_storms").asInt(), s.path("outcomes").toString().replace("\"", ""),
                    s.path("supervisor_rss_mib_before_and_after_each_storm").toString()));
        }
        md.append('\n');
    }
}
