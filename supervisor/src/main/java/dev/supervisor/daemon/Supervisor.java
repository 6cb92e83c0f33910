package dev.supervisor.daemon;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Supplier;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.supervisor.protocol.ListenFds;
import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;

/**
 * The one event loop that owns all state: generations, workers, listeners and timers. Signals,
 * child exits, notify messages and control requests reach it as events ({@link #post}); nothing
 * else reads or writes that state, so it needs no lock.
 *
 * <p>Invariants, checked after every event by {@link #checkInvariants}:
 * <ul>
 * <li>at most one generation is being started by a reload ({@code starting}), and it is STARTING;
 * <li>at most one generation serves ({@code serving}), READY or (generation 1 only) STARTING;
 * <li>every other generation still listed is DRAINING or FAILED, waiting for its workers to exit.
 * </ul>
 * A reload requested while one runs is merged into one more reload after it, so a storm of
 * requests never piles up generations.
 */
public final class Supervisor {
    private final Spawner spawner;
    private final Listeners listeners;
    private final Supplier<Config> configSource;
    private final Map<String, String> baseEnv;
    private final Map<String, String> supervisorEnv;
    private final Log log;
    /** sd_notify states for our own service manager (see {@link SystemdNotifier}). */
    private Consumer<String> manager = state -> {};
    /** Told the pid of each worker sent the drain signal (the control socket's drain event). */
    private Consumer<Integer> drainWatch = pid -> {};
    private final BlockingQueue<Runnable> events = new LinkedBlockingQueue<>();
    /**
     * Runs spawns, {@link #SPAWN_THREADS} at a time. Its threads, made on first use, never end:
     * a worker's parent-death signal (setpriv --pdeathsig) fires when the thread that spawned it does.
     */
    private final ThreadPoolExecutor spawns = new ThreadPoolExecutor(SPAWN_THREADS, SPAWN_THREADS, 0, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(), r -> {
                Thread t = new Thread(r, "spawn");
                t.setDaemon(true);
                return t;
            });
    private static final int SPAWN_THREADS = 4;
    private final PriorityQueue<Timer> timers = new PriorityQueue<>();
    private final long startedNanos = System.nanoTime();
    private long timerSeq;

    private Config config;
    private final List<Generation> generations = new ArrayList<>();
    private Generation serving;
    private Generation starting;
    private int lastGeneration;
    /** Waiting for the reload that runs now. */
    private List<Consumer<ReloadResult>> reloadWaiters = new ArrayList<>();
    /** Requests merged into one more reload after the current one; null = none pending. */
    private List<Consumer<ReloadResult>> pendingReload;
    private boolean stopping;
    private boolean finished;
    private int exitCode = Wire.EXIT_OK;

    /**
     * @param supervisorEnv variables every worker gets besides LISTEN_* (NOTIFY_SOCKET,
     *     SUPERVISOR_SOCKET, JDK_JAVA_OPTIONS, ...)
     */
    public Supervisor(Spawner spawner, BiFunction<String, Address, Listener> binder, Supplier<Config> configSource,
            Map<String, String> baseEnv, Map<String, String> supervisorEnv, Log log) {
        this.spawner = spawner;
        this.listeners = new Listeners(binder);
        this.configSource = configSource;
        this.baseEnv = baseEnv;
        this.supervisorEnv = supervisorEnv;
        this.log = log;
    }

    /** Where READY=1, RELOADING=1, STOPPING=1 and STATUS= for our own service manager go; call before {@link #run}. */
    public void reportTo(Consumer<String> serviceManager) {
        this.manager = serviceManager;
    }

    /** Who hears of each worker told to drain, besides the worker itself; call before {@link #run}. */
    public void onDrain(Consumer<Integer> drainedPid) {
        this.drainWatch = drainedPid;
    }

    // ---- entry points; any thread ----

    /** Queues {@code event} to run on the supervisor thread. */
    public void post(Runnable event) {
        events.add(event);
    }

    public void reload(Consumer<ReloadResult> done) {
        post(() -> requestReload(done));
    }

    /** Graceful stop; a second call during a graceful stop kills every worker at once. */
    public void stop() {
        post(this::requestStop);
    }

    public void status(Consumer<ObjectNode> answer) {
        post(() -> answer.accept(statusJson()));
    }

    /**
     * An sd_notify datagram from process {@code ancestry[0]} whose parent chain follows, so a
     * worker's own children (gunicorn's) are attributed to it.
     */
    public void notify(long[] ancestry, String message) {
        long received = System.nanoTime();
        post(() -> onNotify(findWorker(ancestry), message, received));
    }

    /**
     * An sd_notify datagram from process {@code pid}, read at {@code receivedNanos}. The parent
     * chain (/proc reads) is looked up only when the sender is not a worker itself.
     */
    public void notify(long pid, String message, long receivedNanos) {
        post(() -> {
            Worker w = findWorker(new long[] {pid});
            onNotify(w != null ? w : findWorker(NotifySocket.ancestry(pid)), message, receivedNanos);
        });
    }

    /**
     * The listeners of process {@code ancestry[0]} when it, or the nearest ancestor that is a
     * worker (a launcher's child), is a live, not draining worker of the serving or starting
     * generation; null for any other process.
     */
    public void listenersOf(long[] ancestry, Consumer<List<Listener>> answer) {
        post(() -> {
            Worker w = findWorker(ancestry);
            boolean current = w != null && (w.generation == serving || w.generation == starting)
                    && (w.state == Worker.State.STARTING || w.state == Worker.State.READY);
            answer.accept(current ? List.copyOf(w.generation.listeners) : null);
        });
    }

    // ---- the loop ----

    /**
     * Binds the first config's listeners on the calling thread, so that a port in use is
     * reported before anything runs.
     *
     * @throws ListenerException when a listener cannot be bound
     */
    public List<Listener> bind(Config first) {
        this.config = first;
        return listeners.acquire(first.listeners);
    }

    /** Runs generation 1 (with the listeners from {@link #bind}) and the loop until stopped; returns the exit code. */
    public int run(List<Listener> bound) {
        post(() -> startFirst(bound));
        try {
            while (!finished) {
                Runnable e;
                Timer next = nextTimer();
                if (next == null) {
                    e = events.take();
                } else {
                    e = events.poll(Math.max(0, next.dueNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
                }
                if (e != null) {
                    e.run();
                }
                runDueTimers();
                checkInvariants();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            exitCode = Wire.EXIT_SOFTWARE;
        } finally {
            listeners.closeAll();
        }
        return exitCode;
    }

    private Timer nextTimer() {
        while (!timers.isEmpty() && timers.peek().cancelled) {
            timers.poll();
        }
        return timers.peek();
    }

    private void runDueTimers() {
        long now = System.nanoTime();
        for (Timer t = nextTimer(); t != null && t.dueNanos - now <= 0; t = nextTimer()) {
            timers.poll();
            t.action.run();
        }
    }

    private Timer after(Duration d, Runnable action) {
        return at(System.nanoTime() + d.toNanos(), action);
    }

    private Timer at(long dueNanos, Runnable action) {
        Timer t = new Timer(dueNanos, timerSeq++, action);
        timers.add(t);
        return t;
    }

    void checkInvariants() {
        int startingCount = 0;
        int readyCount = 0;
        for (Generation g : generations) {
            if (g.state == Generation.State.STARTING && g != serving) {
                startingCount++;
            }
            if (g.state == Generation.State.READY) {
                readyCount++;
            }
        }
        if (startingCount > 1 || readyCount > 1 || (starting != null && starting == serving)
                || (starting != null && starting.state != Generation.State.STARTING)) {
            throw new IllegalStateException("invariant broken: " + startingCount + " starting, " + readyCount + " ready, " + generations);
        }
    }

    // ---- generations ----

    private void startFirst(List<Listener> bound) {
        Generation g = newGeneration(config, bound);
        serving = g;
        log.info("starting " + g + ": " + config.workers + " x " + String.join(" ", config.command));
        spawnAll(g);
    }

    private void requestReload(Consumer<ReloadResult> done) {
        if (stopping) {
            done.accept(ReloadResult.failed(lastGeneration, "the supervisor is stopping", List.of()));
        } else if (starting != null) {
            if (pendingReload == null) {
                pendingReload = new ArrayList<>();
                log.info("reload requested while " + starting + " starts: merged into one more reload after it");
            }
            pendingReload.add(done);
        } else {
            startReload(List.of(done));
        }
    }

    private void startReload(List<Consumer<ReloadResult>> waiters) {
        long requested = System.nanoTime();
        reloadWaiters.addAll(waiters);
        log.info("reload requested");
        manager.accept(Wire.RELOADING + "\n" + SystemdNotifier.monotonicUsec());
        Config next;
        List<Listener> bound;
        try {
            next = configSource.get();
            bound = listeners.acquire(next.listeners);
        } catch (RuntimeException e) {
            log.info("reload failed: " + e.getMessage());
            finishReload(ReloadResult.failed(lastGeneration, e.getMessage(), List.of()));
            return;
        }
        config = next;
        Generation g = newGeneration(next, bound);
        g.requestedNanos = requested;
        starting = g;
        g.readyTimer = after(next.readyTimeout, () -> {
            if (g.state == Generation.State.STARTING) {
                failGeneration(g, g + " was not ready within " + Durations.format(next.readyTimeout), null);
            }
        });
        log.info("starting " + g + ": " + next.workers + " x " + String.join(" ", next.command));
        spawnAll(g);
    }

    private Generation newGeneration(Config c, List<Listener> bound) {
        Generation g = new Generation(++lastGeneration, c, bound, System.nanoTime());
        generations.add(g);
        return g;
    }

    private void spawnAll(Generation g) {
        for (int slot = 0; slot < g.slots.length && g.state == Generation.State.STARTING; slot++) {
            spawnWorker(g, slot, new Backoff(), 0);
        }
    }

    /**
     * Starts the worker of {@code slot} on a spawn thread, so that a wide generation's spawns
     * overlap (each waits for its child's exec); the result comes back as an event.
     */
    private void spawnWorker(Generation g, int slot, Backoff backoff, int restarts) {
        Spawner.Spec spec = spec(g, slot);
        // The exit hook may fire before the worker is known here: it waits for it.
        CompletableFuture<Worker> self = new CompletableFuture<>();
        g.spawning++;
        spawns.execute(() -> {
            // The worker's own time starts here: posix_spawn returns only once the child has exec'd.
            long spawned = System.nanoTime();
            try {
                Spawner.Process p = spawner.spawn(spec, () -> self.thenAccept(w -> post(() -> onExit(w))));
                post(() -> onSpawned(g, slot, backoff, restarts, p, spawned, self));
            } catch (RuntimeException e) {
                // SpawnException, or a pipe or dup that failed (NativeException): this worker is not started.
                post(() -> {
                    g.spawning--;
                    onSpawnFailure(g, slot, backoff, e.getMessage());
                    exitIfDone(g);
                });
            }
        });
    }

    private void onSpawned(Generation g, int slot, Backoff backoff, int restarts, Spawner.Process p, long spawned,
            CompletableFuture<Worker> self) {
        g.spawning--;
        Worker w = new Worker(g, slot, p, spawned, backoff);
        w.restarts = restarts;
        g.slots[slot] = w;
        g.live.add(w);
        log.info("started " + w);
        self.complete(w);
        if (g.state != Generation.State.STARTING && g.state != Generation.State.READY) {
            // Its generation failed or was told to drain while the spawn ran.
            w.process.killGroup();
            return;
        }
        if (!g.config.ready.isNotify()) {
            long due = spawned + g.config.ready.delay().toNanos();
            at(due, () -> {
                if (w.state == Worker.State.STARTING) {
                    markReady(w, due); // a late timer is the supervisor's time, not the worker's
                }
            });
        }
    }

    private Spawner.Spec spec(Generation g, int slot) {
        List<String> names = new ArrayList<>();
        for (Listener l : g.listeners) {
            names.add(l.name());
        }
        if (g.env == null) {
            // The same for every worker of the generation but SUPERVISOR_WORKER: built once, not
            // once per worker.
            Map<String, String> extra = new LinkedHashMap<>(supervisorEnv);
            extra.putAll(ListenFds.environment(names));
            extra.put(Wire.SUPERVISOR_GENERATION, Integer.toString(g.number));
            extra.put(Wire.SUPERVISOR_WORKER, "");
            extra.put(Wire.SUPERVISOR_DRAIN_SIGNAL, Signals.shortName(g.config.drainSignal));
            extra.putAll(g.config.env);
            String opts = supervisorEnv.get(Wire.JDK_JAVA_OPTIONS);
            if (opts != null) {
                String own = baseEnv.get(Wire.JDK_JAVA_OPTIONS);
                extra.put(Wire.JDK_JAVA_OPTIONS, own == null || own.isBlank() ? opts : own + " " + opts);
            }
            g.env = PosixSpawner.workerEnvironment(baseEnv, extra);
        }
        Map<String, String> env = new LinkedHashMap<>(g.env);
        if (!g.config.env.containsKey(Wire.SUPERVISOR_WORKER)) {
            env.put(Wire.SUPERVISOR_WORKER, Integer.toString(slot));
        }
        int stdin = g.config.stdinListener == null ? -1 : names.indexOf(g.config.stdinListener);
        // Only a reload's generation starts low: generation 1 and restarted workers have no one to yield to.
        Priority priority = g == starting ? g.config.startingPriority : Priority.NORMAL;
        return new Spawner.Spec(g.config.command, env, g.listeners, stdin, g.number, slot, priority);
    }

    private void onSpawnFailure(Generation g, int slot, Backoff backoff, String message) {
        log.info(g + " worker " + slot + ": " + message);
        if (g == starting) {
            failGeneration(g, message, List.of());
        } else if (g == serving && !stopping) {
            scheduleRestart(g, slot, backoff, Duration.ZERO);
        }
    }

    /** {@code w} said it is ready (or its delay ended) at {@code readyNanos}. */
    private void markReady(Worker w, long readyNanos) {
        w.state = Worker.State.READY;
        w.readyNanos = readyNanos;
        Generation g = w.generation;
        if (g.state == Generation.State.STARTING && g.allReady()) {
            promote(g);
        }
    }

    /** {@code g} is ready: it serves from now on and the one before it drains. */
    private void promote(Generation g) {
        // Before the old generation drains, so the new one serves at full priority.
        for (Worker w : g.live) {
            w.process.raisePriority();
        }
        g.state = Generation.State.READY;
        g.readyNanos = System.nanoTime();
        if (g.readyTimer != null) {
            g.readyTimer.cancel();
        }
        long slowestWorker = 0;
        for (Worker w : g.slots) {
            slowestWorker = Math.max(slowestWorker, w.readyNanos - w.startedNanos);
        }
        long total = g.readyNanos - g.requestedNanos;
        g.overheadNanos = Math.max(0, total - slowestWorker);
        String timing = " ready in " + total / 1_000_000 + " ms (slowest worker " + slowestWorker / 1_000_000 + " ms, supervisor "
                + String.format("%.2f", g.overheadNanos / 1e6) + " ms)";
        Generation old = serving;
        serving = g;
        if (old != null && old != g) {
            drain(old);
            log.info(g + timing + "; draining " + old);
        } else {
            log.info(g + timing);
        }
        if (g == starting) {
            starting = null;
            finishReload(ReloadResult.ok(g.number));
        } else if (!stopping) {
            // Generation 1, which no reload started: a reload running now waits for its own generation.
            manager.accept(Wire.READY + "\n" + Wire.STATUS_PREFIX + "serving generation " + g.number);
        }
    }

    /** Answers everyone waiting for the reload that just ended, then runs the merged one, if any. */
    private void finishReload(ReloadResult result) {
        List<Consumer<ReloadResult>> waiters = reloadWaiters;
        reloadWaiters = new ArrayList<>();
        for (Consumer<ReloadResult> w : waiters) {
            w.accept(result);
        }
        if (!stopping && serving != null) {
            manager.accept(Wire.READY + "\n" + Wire.STATUS_PREFIX + "serving generation " + serving.number);
        }
        if (pendingReload != null && !stopping) {
            List<Consumer<ReloadResult>> next = pendingReload;
            pendingReload = null;
            startReload(next);
        }
    }

    private void drain(Generation g) {
        g.state = Generation.State.DRAINING;
        for (Worker w : g.live) {
            if (w.state != Worker.State.EXITED) {
                w.state = Worker.State.DRAINING;
                w.process.signal(g.config.drainSignal);
                drainWatch.accept(w.pid());
            }
        }
        g.drainTimer = after(g.config.drainTimeout, () -> {
            for (Worker w : g.live) {
                log.info(w + " still running " + Durations.format(g.config.drainTimeout) + " after the drain signal: killing it");
                w.killedAtDrainTimeout = true;
                w.process.killGroup();
            }
        });
        exitIfDone(g);
    }

    /**
     * The new generation did not come up: kill it, leave the serving one untouched. A null
     * {@code stderr} means the last words of a worker that was not ready, read once it is killed
     * (its pipe ends then, so reading the tail does not wait).
     */
    private void failGeneration(Generation g, String reason, List<String> stderr) {
        g.state = Generation.State.FAILED;
        if (g.readyTimer != null) {
            g.readyTimer.cancel();
        }
        if (starting == g) {
            starting = null;
        }
        if (serving != null) {
            // The failed config is not in effect: a listener only it named is closed once g has gone.
            config = serving.config;
        }
        Worker notReady = stderr == null ? firstNotReady(g) : null;
        for (Worker w : g.live) {
            w.process.killGroup();
        }
        if (stderr == null) {
            stderr = notReady == null ? List.of() : notReady.process.stderrTail();
        }
        log.info("reload failed: " + reason + (serving != null ? "; " + serving + " keeps serving" : ""));
        for (String line : stderr) {
            log.info("  | " + line);
        }
        exitIfDone(g);
        finishReload(ReloadResult.failed(g.number, reason, stderr));
    }

    /** The first worker of {@code g} that was not ready: its stderr goes in the answer. */
    private static Worker firstNotReady(Generation g) {
        for (Worker w : g.slots) {
            if (w != null && w.state == Worker.State.STARTING) {
                return w;
            }
        }
        return null;
    }

    // ---- worker exits ----

    /** The spawner saw the worker exit. */
    private void onExit(Worker w) {
        if (w.state == Worker.State.EXITED) {
            return;
        }
        int status = w.process.reap();
        Worker.State was = w.state;
        w.state = Worker.State.EXITED;
        Generation g = w.generation;
        g.live.remove(w);
        Duration served = Duration.ofNanos(System.nanoTime() - w.startedNanos);
        log.info(w + " " + ExitStatus.describe(status)
                + (w.killedAtDrainTimeout ? " (at the drain timeout)" : was == Worker.State.DRAINING ? " (drained)" : ""));
        if (g == starting) {
            failGeneration(g, w + " " + ExitStatus.describe(status) + " before it was ready", w.process.stderrTail());
        } else if (g == serving && !stopping && g.slots[w.slot] == w) {
            scheduleRestart(g, w.slot, w.backoff, served);
        }
        exitIfDone(g);
    }

    private void scheduleRestart(Generation g, int slot, Backoff backoff, Duration served) {
        Duration delay = backoff.next(served);
        log.info("restarting " + g + " worker " + slot + " in " + delay.toMillis() + " ms");
        after(delay, () -> {
            if (g == serving && !stopping && (g.slots[slot] == null || g.slots[slot].state == Worker.State.EXITED)) {
                spawnWorker(g, slot, backoff, g.slots[slot] == null ? 0 : g.slots[slot].restarts + 1);
            }
        });
    }

    private void exitIfDone(Generation g) {
        boolean over = g.live.isEmpty() && g.spawning == 0 && (g.state == Generation.State.DRAINING || g.state == Generation.State.FAILED);
        if (over) {
            g.state = Generation.State.EXITED;
            if (g.drainTimer != null) {
                g.drainTimer.cancel();
            }
            generations.remove(g);
            if (g == serving) {
                serving = null;
            }
            for (Listener l : listeners.release(g.listeners, config.listeners)) {
                log.info("closed listener " + l + ": no generation uses it");
            }
            log.info(g + " exited");
        }
        if (stopping && generations.isEmpty()) {
            log.info("stopped");
            finished = true;
        }
    }

    // ---- stop ----

    private void requestStop() {
        if (stopping) {
            log.info("second stop request: killing every worker");
            for (Generation g : generations) {
                for (Worker w : g.live) {
                    w.process.killGroup();
                }
            }
            return;
        }
        stopping = true;
        log.info("stopping: draining every generation");
        manager.accept(Wire.STOPPING);
        if (pendingReload != null) {
            pendingReload.forEach(w -> w.accept(ReloadResult.failed(lastGeneration, "the supervisor is stopping", List.of())));
            pendingReload = null;
        }
        if (starting != null) {
            failGeneration(starting, "the supervisor is stopping", List.of());
        }
        for (Generation g : new ArrayList<>(generations)) {
            if (g.state == Generation.State.STARTING || g.state == Generation.State.READY) {
                drain(g);
            }
        }
        if (generations.isEmpty()) {
            finished = true;
        }
    }

    // ---- notify ----

    private void onNotify(Worker w, String message, long receivedNanos) {
        if (w == null) {
            return;
        }
        for (String line : message.split("\n")) {
            if (line.equals(Wire.READY)) {
                if (w.state == Worker.State.STARTING && w.generation.config.ready.isNotify()) {
                    markReady(w, receivedNanos);
                }
            } else if (line.startsWith(Wire.STATUS_PREFIX)) {
                w.status = line.substring(Wire.STATUS_PREFIX.length());
            } else if (line.equals(Wire.STOPPING)) {
                w.stopping = true;
            }
        }
    }

    private Worker findWorker(long[] ancestry) {
        for (long pid : ancestry) {
            for (Generation g : generations) {
                for (Worker w : g.live) {
                    if (w.pid() == pid) {
                        return w;
                    }
                }
            }
        }
        return null;
    }

    // ---- status ----

    private ObjectNode statusJson() {
        long now = System.nanoTime();
        ObjectNode s = Message.json().createObjectNode();
        s.put("pid", ProcessHandle.current().pid());
        s.put("uptime_ms", (now - startedNanos) / 1_000_000);
        s.put("serving", serving == null ? 0 : serving.number);
        s.put("reloading", starting != null);
        s.put("stopping", stopping);
        ArrayNode ls = s.putArray("listeners");
        for (Listener l : listeners.all()) {
            ls.addObject().put("name", l.name()).put("address", l.address().toString()).put("bound", l.bound());
        }
        ArrayNode gs = s.putArray("generations");
        for (Generation g : generations) {
            ObjectNode gj = gs.addObject();
            gj.put("generation", g.number);
            gj.put("state", g.state.name());
            gj.put("age_ms", (now - g.startedNanos) / 1_000_000);
            gj.put("command", String.join(" ", g.config.command));
            gj.put("requested_ms", (g.requestedNanos - startedNanos) / 1_000_000);
            if (g.readyNanos != 0) {
                gj.put("ready_ms", (g.readyNanos - startedNanos) / 1_000_000);
                gj.put("overhead_us", g.overheadNanos / 1000);
            }
            ArrayNode ws = gj.putArray("workers");
            for (Worker w : g.live) {
                ObjectNode wj = ws.addObject();
                wj.put("worker", w.slot);
                wj.put("pid", w.pid());
                wj.put("state", w.state.name());
                wj.put("age_ms", (now - w.startedNanos) / 1_000_000);
                wj.put("restarts", w.restarts);
                if (w.status != null) {
                    wj.put("status", w.status);
                }
            }
        }
        return s;
    }
}
