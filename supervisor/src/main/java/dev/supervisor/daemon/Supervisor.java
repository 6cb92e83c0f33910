package dev.supervisor.daemon;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Supplier;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.supervisor.daemon.upgrade.State;
import dev.supervisor.daemon.upgrade.Version;
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
    private final PriorityQueue<Timer> timers = new PriorityQueue<>();
    private long startedNanos = System.nanoTime();
    /** When this image (this execve of the supervisor) started; = startedNanos until an upgrade. */
    private final long imageStartedNanos = System.nanoTime();
    private final long imageStartedMillis = System.currentTimeMillis();
    /** The pre-flight and exec of `upgrade`; null = upgrades not available. */
    private ImageSwap swap;
    private boolean upgrading;
    /** Told why the upgrade under way failed (a success is answered by the new image). */
    private List<Consumer<String>> upgradeWaiters = new ArrayList<>();
    /** Upgrades asked for during a reload: one upgrade after it; null = none. */
    private List<Consumer<String>> pendingUpgrade;
    private int upgrades;
    /** The last upgrade: from the hand-over (control socket paused) to this image's first event; -1 = none. */
    private long lastUpgradePauseNanos = -1;
    private long reloadsOk;
    private long reloadsFailed;
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

    /** How this supervisor upgrades itself; call before {@link #run}. */
    public void upgradeWith(ImageSwap swap) {
        this.swap = swap;
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

    /**
     * Upgrades in place (re-executes the installation with the state handed over). {@code failed}
     * hears why, when it failed and this image carries on; a success is answered by the new image.
     */
    public void upgrade(Consumer<String> failed) {
        post(() -> requestUpgrade(failed));
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

    /** Takes over what the previous image handed over; then {@link #run} with null. Call before the control socket starts. */
    public void resumeFrom(State s) {
        post(() -> restore(s));
    }

    /** Runs generation 1 (with the listeners from {@link #bind}) and the loop until stopped; returns the exit code. */
    public int run(List<Listener> bound) {
        if (bound != null) {
            post(() -> startFirst(bound));
        }
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
        } else if (starting != null || upgrading) {
            if (pendingReload == null) {
                pendingReload = new ArrayList<>();
                log.info("reload requested while " + (upgrading ? "upgrading" : starting + " starts") + ": merged into one more reload after it");
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
        readyTimeoutAt(g, System.nanoTime() + next.readyTimeout.toNanos());
        log.info("starting " + g + ": " + next.workers + " x " + String.join(" ", next.command));
        spawnAll(g);
    }

    private void readyTimeoutAt(Generation g, long dueNanos) {
        g.readyTimer = at(dueNanos, () -> {
            if (g.state == Generation.State.STARTING) {
                failGeneration(g, g + " was not ready within " + Durations.format(g.config.readyTimeout), null);
            }
        });
    }

    private Generation newGeneration(Config c, List<Listener> bound) {
        Generation g = new Generation(++lastGeneration, c, bound, System.nanoTime());
        generations.add(g);
        return g;
    }

    private void spawnAll(Generation g) {
        for (int slot = 0; slot < g.slots.length && g.state == Generation.State.STARTING; slot++) {
            spawnWorker(g, slot, new Backoff());
        }
    }

    private void spawnWorker(Generation g, int slot, Backoff backoff) {
        Worker[] self = new Worker[1];
        Spawner.Process p;
        // The worker's own time starts here: posix_spawn returns only once the child has exec'd.
        long spawned = System.nanoTime();
        try {
            // The exit hook fires on another thread; the loop handles it after this event, when self is set.
            p = spawner.spawn(spec(g, slot), () -> post(() -> onExit(self[0])));
        } catch (Spawner.SpawnException e) {
            onSpawnFailure(g, slot, backoff, e.getMessage());
            return;
        }
        Worker w = new Worker(g, slot, p, spawned, backoff);
        self[0] = w;
        g.slots[slot] = w;
        g.live.add(w);
        log.info("started " + w);
        if (!g.config.ready.isNotify()) {
            readyAfterDelay(w);
        }
    }

    private void readyAfterDelay(Worker w) {
        long due = w.startedNanos + w.generation.config.ready.delay().toNanos();
        at(due, () -> {
            if (w.state == Worker.State.STARTING) {
                markReady(w, due); // a late timer is the supervisor's time, not the worker's
            }
        });
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
        return new Spawner.Spec(g.config.command, env, g.listeners, stdin, g.number, slot);
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
        if (result.ok) {
            reloadsOk++;
        } else {
            reloadsFailed++;
        }
        for (Consumer<ReloadResult> w : waiters) {
            w.accept(result);
        }
        if (!stopping && serving != null) {
            manager.accept(Wire.READY + "\n" + Wire.STATUS_PREFIX + "serving generation " + serving.number);
        }
        if (pendingUpgrade != null && !stopping) {
            List<Consumer<String>> next = pendingUpgrade;
            pendingUpgrade = null;
            startUpgrade(next);
        } else if (pendingReload != null && !stopping) {
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
        drainTimeoutAt(g, System.nanoTime() + g.config.drainTimeout.toNanos());
        exitIfDone(g);
    }

    private void drainTimeoutAt(Generation g, long dueNanos) {
        g.drainTimer = at(dueNanos, () -> {
            for (Worker w : g.live) {
                log.info(w + " still running " + Durations.format(g.config.drainTimeout) + " after the drain signal: killing it");
                w.killedAtDrainTimeout = true;
                w.process.killGroup();
            }
        });
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
        restartAt(g, slot, backoff, System.nanoTime() + delay.toNanos());
    }

    private void restartAt(Generation g, int slot, Backoff backoff, long dueNanos) {
        g.restartBackoffs[slot] = backoff;
        g.restartTimers[slot] = at(dueNanos, () -> {
            g.restartTimers[slot] = null;
            if (g == serving && !stopping && (g.slots[slot] == null || g.slots[slot].state == Worker.State.EXITED)) {
                int restarts = g.slots[slot] == null ? 0 : g.slots[slot].restarts + 1;
                spawnWorker(g, slot, backoff);
                if (g.slots[slot] != null) {
                    g.slots[slot].restarts = restarts;
                }
            }
        });
    }

    private void exitIfDone(Generation g) {
        boolean over = g.live.isEmpty() && (g.state == Generation.State.DRAINING || g.state == Generation.State.FAILED);
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
        if (pendingUpgrade != null) {
            pendingUpgrade.forEach(w -> w.accept("the supervisor is stopping"));
            pendingUpgrade = null;
        }
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
        s.put("version", Version.current());
        s.put("uptime_ms", (now - startedNanos) / 1_000_000);
        s.put("upgrades", upgrades);
        s.put("upgrading", upgrading);
        if (lastUpgradePauseNanos >= 0) {
            s.put("last_upgrade_pause_ms", lastUpgradePauseNanos / 1_000_000);
        }
        s.put("image_started", java.time.Instant.ofEpochMilli(imageStartedMillis).toString());
        s.put("image_uptime_ms", (now - imageStartedNanos) / 1_000_000);
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

    // ---- upgrade: serialized with reloads and stop; the state crosses the exec as a document ----

    private void requestUpgrade(Consumer<String> failed) {
        if (swap == null) {
            failed.accept("this supervisor cannot upgrade itself (no launcher)");
        } else if (stopping) {
            failed.accept("the supervisor is stopping");
        } else if (upgrading) {
            upgradeWaiters.add(failed);
        } else if (starting != null) {
            if (pendingUpgrade == null) {
                pendingUpgrade = new ArrayList<>();
                log.info("upgrade requested while " + starting + " starts: it runs after that reload");
            }
            pendingUpgrade.add(failed);
        } else {
            startUpgrade(List.of(failed));
        }
    }

    private void startUpgrade(List<Consumer<String>> waiters) {
        upgrading = true;
        upgradeWaiters.addAll(waiters);
        log.info("upgrade requested: checking the installation (" + Version.current() + " runs now)");
        Thread t = new Thread(() -> {
            String failure;
            try {
                failure = swap.check();
            } catch (RuntimeException e) {
                failure = e.toString();
            }
            String f = failure;
            post(() -> onChecked(f));
        }, "upgrade-check");
        t.setDaemon(true);
        t.start();
    }

    private void onChecked(String failure) {
        if (failure == null && stopping) {
            failure = "the supervisor is stopping";
        }
        if (failure != null) {
            endUpgrade("upgrade failed: " + failure + "; " + Version.current() + " keeps running");
            return;
        }
        manager.accept(Wire.RELOADING + "\n" + SystemdNotifier.monotonicUsec() + "\n" + Wire.STATUS_PREFIX + "upgrading from "
                + Version.current());
        State s;
        try {
            spawner.freeze();
            try {
                s = snapshot();
                s.control = swap.freezeControl();
            } catch (RuntimeException e) {
                spawner.thaw();
                throw e;
            }
        } catch (RuntimeException e) {
            endUpgrade("upgrade failed: " + e.getMessage() + "; " + Version.current() + " keeps running");
            return;
        }
        log.info("upgrading: handing " + generations.size() + " generations over to the new image");
        try {
            swap.exec(s);
        } catch (RuntimeException e) {
            swap.thawControl();
            spawner.thaw();
            endUpgrade("upgrade failed: " + e.getMessage() + "; " + Version.current() + " carries on");
        }
    }

    private void endUpgrade(String error) {
        upgrading = false;
        log.info(error);
        List<Consumer<String>> waiters = upgradeWaiters;
        upgradeWaiters = new ArrayList<>();
        waiters.forEach(w -> w.accept(error));
        if (!stopping) {
            manager.accept(Wire.READY + "\n" + Wire.STATUS_PREFIX + "serving generation " + (serving == null ? 0 : serving.number)
                    + " (supervisor " + Version.current() + ")");
        }
        if (pendingReload != null && !stopping) {
            List<Consumer<ReloadResult>> next = pendingReload;
            pendingReload = null;
            startReload(next);
        }
    }

    /** Everything the next image needs, read on this thread with output frozen. */
    private State snapshot() {
        long now = System.nanoTime();
        State s = new State();
        s.version = Version.current();
        s.monotonicNanos = now;
        s.startedAgeNanos = now - startedNanos;
        s.upgrades = upgrades + 1;
        s.lastGeneration = lastGeneration;
        s.serving = serving == null ? 0 : serving.number;
        s.config = config.toJson();
        s.pendingReload = pendingReload != null;
        s.reloadsOk = reloadsOk;
        s.reloadsFailed = reloadsFailed;
        for (Listener l : listeners.all()) {
            State.ListenerState ls = new State.ListenerState();
            ls.name = l.name();
            ls.address = l.address().toString();
            ls.fd = l.fd();
            ls.bound = l.bound();
            ls.inherited = l.inherited();
            s.listeners.add(ls);
        }
        for (Generation g : generations) {
            State.GenerationState gs = new State.GenerationState();
            gs.number = g.number;
            gs.state = g.state.name();
            gs.config = g.config.toJson();
            for (Listener l : g.listeners) {
                gs.listeners.add(Listeners.key(l.name(), l.address()));
            }
            gs.startedAgeNanos = now - g.startedNanos;
            gs.requestedAgeNanos = now - g.requestedNanos;
            gs.readyAgeNanos = g.readyNanos == 0 ? -1 : now - g.readyNanos;
            gs.overheadNanos = g.overheadNanos;
            gs.readyRemainingNanos = remaining(g.readyTimer, now);
            gs.drainRemainingNanos = remaining(g.drainTimer, now);
            for (Worker w : g.live) {
                State.WorkerState ws = new State.WorkerState();
                ws.slot = w.slot;
                ws.pid = w.pid();
                ws.current = g.slots[w.slot] == w;
                ws.state = w.state.name();
                ws.startedAgeNanos = now - w.startedNanos;
                ws.readyAgeNanos = w.readyNanos == 0 ? -1 : now - w.readyNanos;
                ws.restarts = w.restarts;
                ws.status = w.status;
                ws.stopping = w.stopping;
                ws.killedAtDrainTimeout = w.killedAtDrainTimeout;
                ws.backoffMillis = w.backoff.lastMillis();
                int[] out = w.process.outputFds();
                ws.stdoutFd = out[0];
                ws.stderrFd = out[1];
                ws.stderrTail = w.process.stderrKept();
                gs.workers.add(ws);
            }
            for (int slot = 0; slot < g.restartTimers.length; slot++) {
                long left = remaining(g.restartTimers[slot], now);
                if (left >= 0) {
                    State.RestartState rs = new State.RestartState();
                    rs.slot = slot;
                    rs.remainingNanos = left;
                    rs.backoffMillis = g.restartBackoffs[slot].lastMillis();
                    gs.restarts.add(rs);
                }
            }
            s.generations.add(gs);
        }
        return s;
    }

    private static long remaining(Timer t, long now) {
        return t == null || t.cancelled ? -1 : Math.max(0, t.dueNanos - now);
    }

    /** The new image's first event: the previous image's state becomes this one's. */
    private void restore(State s) {
        long base = s.monotonicNanos; // the writer's CLOCK_MONOTONIC, which this image reads too
        startedNanos = base - s.startedAgeNanos;
        upgrades = s.upgrades;
        lastGeneration = s.lastGeneration;
        reloadsOk = s.reloadsOk;
        reloadsFailed = s.reloadsFailed;
        config = Config.parse(s.config, "the upgrade state", new Config.Flags());
        for (State.ListenerState ls : s.listeners) {
            listeners.adopt(new Listener(ls.name, Address.parse(ls.address), ls.fd, ls.bound, ls.inherited));
        }
        for (State.GenerationState gs : s.generations) {
            List<Listener> used = new ArrayList<>();
            for (String key : gs.listeners) {
                used.add(listeners.use(key));
            }
            Generation g = new Generation(gs.number, Config.parse(gs.config, "the upgrade state", new Config.Flags()), used,
                    base - gs.startedAgeNanos);
            g.state = Generation.State.valueOf(gs.state);
            g.requestedNanos = base - gs.requestedAgeNanos;
            g.readyNanos = gs.readyAgeNanos < 0 ? 0 : base - gs.readyAgeNanos;
            g.overheadNanos = gs.overheadNanos;
            generations.add(g);
            if (g.number == s.serving) {
                serving = g;
            } else if (g.state == Generation.State.STARTING) {
                starting = g;
            }
            for (State.WorkerState ws : gs.workers) {
                Worker[] self = new Worker[1];
                Spawner.Process p = spawner.adopt(ws.pid, ws.stdoutFd, ws.stderrFd, ws.stderrTail, g.number, ws.slot,
                        () -> post(() -> onExit(self[0])));
                Worker w = new Worker(g, ws.slot, p, base - ws.startedAgeNanos, Backoff.resumed(ws.backoffMillis));
                w.state = Worker.State.valueOf(ws.state);
                w.readyNanos = ws.readyAgeNanos < 0 ? 0 : base - ws.readyAgeNanos;
                w.restarts = ws.restarts;
                w.status = ws.status;
                w.stopping = ws.stopping;
                w.killedAtDrainTimeout = ws.killedAtDrainTimeout;
                self[0] = w;
                g.live.add(w);
                if (ws.current) {
                    g.slots[ws.slot] = w;
                }
                if (w.state == Worker.State.STARTING && !g.config.ready.isNotify()) {
                    readyAfterDelay(w);
                }
            }
            if (gs.readyRemainingNanos >= 0) {
                readyTimeoutAt(g, base + gs.readyRemainingNanos);
            }
            if (gs.drainRemainingNanos >= 0) {
                drainTimeoutAt(g, base + gs.drainRemainingNanos);
            }
            for (State.RestartState rs : gs.restarts) {
                restartAt(g, rs.slot, Backoff.resumed(rs.backoffMillis), base + rs.remainingNanos);
            }
        }
        for (Generation g : new ArrayList<>(generations)) {
            exitIfDone(g);
        }
        lastUpgradePauseNanos = Math.max(0, System.nanoTime() - base);
        log.info("upgraded from " + s.version + " to " + Version.current() + " (upgrade " + upgrades + ", " + lastUpgradePauseNanos / 1_000_000
                + " ms from the hand-over): " + generations.size() + " generations, serving " + (serving == null ? "none" : serving));
        manager.accept(Wire.READY + "\n" + Wire.STATUS_PREFIX + "serving generation " + (serving == null ? 0 : serving.number)
                + " (supervisor " + Version.current() + ")");
        if (s.pendingReload) {
            startReload(List.of(r -> log.info("reload asked for during the upgrade: " + (r.ok ? "generation " + r.generation + " serves" : "failed: " + r.error))));
        }
    }
}
