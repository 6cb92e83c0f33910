package dev.supervisor.daemon;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.supervisor.daemon.upgrade.State;
import dev.supervisor.daemon.upgrade.StateFile;
import dev.supervisor.daemon.upgrade.Version;
import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.ListenFds;
import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.NativeException;
import dev.supervisor.protocol.Wire;

/**
 * The one event loop that owns all state: generations, workers, listeners and timers. Signals,
 * child exits, notify messages and control requests reach it as events ({@link #post}); nothing
 * else reads or writes that state, so it needs no lock.
 *
 * <p>Invariants, checked after every event by {@link #checkInvariants}:
 * <ul>
 * <li>at most one generation is being started by a reload ({@code starting}), it is STARTING,
 *     and it is not the serving one;
 * <li>at most one generation is READY, and the serving one is READY, STARTING (generation 1
 *     only) or DRAINING (while stopping);
 * <li>every other generation still listed is DRAINING or FAILED, waiting for its last process to end.
 * </ul>
 * A reload requested while one runs is merged into one more reload after it, so a storm of
 * requests never piles up generations.
 */
public final class Supervisor implements Control {
    /** How often the workers' process trees are looked at again (bounded /proc reads). */
    static final Duration TREE_PERIOD = Duration.ofMillis(250);
    private final Spawner spawner;
    private final Listeners listeners;
    private final Supplier<Config> configSource;
    private final Environment baseEnv;
    private final Map<String, String> supervisorEnv;
    private final Log log;
    /** sd_notify states for our own service manager (see {@link SystemdNotifier}). */
    private Consumer<String> manager = state -> {};
    /** Told the pid of each worker sent the drain signal (the control socket's drain event). */
    private Consumer<Integer> drainWatch = pid -> {};
    private final BlockingQueue<Runnable> events = new LinkedBlockingQueue<>();
    private final PriorityQueue<Timer> timers = new PriorityQueue<>();
    private LongSupplier clock = System::nanoTime;
    private Consumer<SupervisorEvent> observer = e -> {};
    private long startedNanos = System.nanoTime();
    private long startedEpochMillis = System.currentTimeMillis();
    /** When this image (this execve of the supervisor) started; = the start until an upgrade. */
    private long imageStartedNanos = System.nanoTime();
    private final long imageStartedEpochMillis = System.currentTimeMillis();
    /** The pre-flight and exec of an upgrade; null = this supervisor cannot upgrade itself. */
    private ImageSwap swap;
    /** A config file's bytes (null = flags only) as a Config: what a handed-over generation runs with. */
    private Function<byte[], Config> configOf;
    private boolean upgrading;
    /** Told why the upgrade under way failed (a success is answered by the new image). */
    private List<Consumer<String>> upgradeWaiters = new ArrayList<>();
    /** Upgrades asked for during a reload: one upgrade after it; null = none. */
    private List<Consumer<String>> pendingUpgrade;
    private int upgrades;
    /** The last upgrade: from the hand-over to this image's first event; -1 = none. */
    private long lastUpgradePauseNanos = -1;
    /** A reload merged by a signal (not the control socket, whose requests the next image answers itself). */
    private boolean pendingSignalReload;
    /** How often the listeners are checked for one a worker shut down. */
    private static final Duration LISTENER_CHECK = Duration.ofSeconds(1);
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
    /** A failed generation whose reload is answered once its worker's last stderr lines are in; reloads asked meanwhile merge. */
    private Generation failing;
    private boolean stopping;
    private boolean finished;
    private int exitCode = Wire.EXIT_OK;
    private final ReloadHistory history = new ReloadHistory(System.currentTimeMillis());
    private final AcceptQueueWatch queueWatch = new AcceptQueueWatch();
    private long workerRestarts;
    /** Reads /proc for status answers off this thread; started on first use. */
    private ExecutorService procReader;

    /**
     * @param supervisorEnv variables every worker gets besides LISTEN_* (NOTIFY_SOCKET,
     *     SUPERVISOR_SOCKET, JDK_JAVA_OPTIONS, ...)
     */
    public Supervisor(Spawner spawner, BiFunction<String, Address, Listener> binder, Supplier<Config> configSource,
            Environment baseEnv, Map<String, String> supervisorEnv, Log log) {
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

    /**
     * How this supervisor upgrades itself, and how it makes a Config of a config file's bytes (for
     * generations handed over); call before {@link #run}.
     */
    public void upgradeWith(ImageSwap swap, Function<byte[], Config> configOf) {
        this.swap = swap;
        this.configOf = configOf;
    }

    /** Who hears of each worker told to drain, besides the worker itself; call before {@link #run}. */
    public void onDrain(Consumer<Integer> drainedPid) {
        this.drainWatch = drainedPid;
    }

    /** The clock of every timer and timestamp (tests step a fake one); call before anything else. */
    void useClock(LongSupplier nanos) {
        this.clock = nanos;
    }

    /** Who hears of every {@link SupervisorEvent}, on the supervisor thread; call before {@link #run}. */
    public void observe(Consumer<SupervisorEvent> observer) {
        this.observer = observer;
    }

    private void emit(SupervisorEvent.Kind kind, int generation, int slot, Object detail) {
        observer.accept(new SupervisorEvent(kind, generation, slot, detail == null ? "" : detail.toString()));
    }

    // ---- entry points; any thread ----

    /** Queues {@code event} to run on the supervisor thread. */
    public void post(Runnable event) {
        events.add(event);
    }

    /** A reload asked for over the control socket. */
    @Override
    public void reload(Consumer<ReloadResult> done) {
        reload(ReloadHistory.CONTROL, done);
    }

    /** A reload asked for by {@code trigger} ("control", "SIGHUP"), as the reload history names it. */
    public void reload(String trigger, Consumer<ReloadResult> done) {
        post(() -> requestReload(trigger, done));
    }

    @Override
    public void upgrade(Consumer<String> failed) {
        post(() -> requestUpgrade(failed));
    }

    /** Graceful stop; a second call during a graceful stop kills every worker at once. */
    @Override
    public void stop() {
        post(this::requestStop);
    }

    /** The status document; each generation's connections are counted from /proc off this thread. */
    @Override
    public void status(Consumer<ObjectNode> answer) {
        post(() -> {
            ObjectNode s = statusJson();
            Connections.Census census = census();
            if (procReader == null) {
                procReader = Executors.newSingleThreadExecutor(r -> {
                    Thread t = new Thread(r, "status-proc-reader");
                    t.setDaemon(true);
                    return t;
                });
            }
            // /proc/net/tcp lists every TIME_WAIT socket of the machine: under a load of fresh
            // connections it can take seconds to read. The answer does not wait that long for it:
            // it counts with the last table read instead (none before the first read is done).
            CompletableFuture.supplyAsync(() -> Connections.count(census), procReader)
                    .completeOnTimeout(null, CENSUS_WAIT_MILLIS, TimeUnit.MILLISECONDS)
                    .thenAccept(fresh -> {
                        Map<Integer, Integer> held = fresh != null ? fresh : Connections.countFromLast(census);
                        if (held != null) {
                            for (JsonNode g : s.path("generations")) {
                                ((ObjectNode) g).put("connections", held.getOrDefault(g.path("generation").asInt(), 0));
                            }
                        }
                        answer.accept(s);
                    });
        });
    }

    /** How long a status answer waits for a fresh read of the connections table; then it counts with the last one. */
    static final long CENSUS_WAIT_MILLIS = 250;

    /** What {@code /metrics} and {@code /ready} show, copied on the supervisor thread. */
    public void snapshot(Consumer<Snapshot> answer) {
        post(() -> answer.accept(snapshot()));
    }

    @Override
    public void grant(long[] ancestry, boolean withFds, Consumer<Control.Grant> answer) {
        post(() -> {
            Worker w = findWorker(ancestry);
            boolean current = w != null && (w.generation == serving || w.generation == starting)
                    && (w.state == Worker.State.STARTING || w.state == Worker.State.READY);
            answer.accept(current ? grantOf(w, withFds) : null);
        });
    }

    private static Control.Grant grantOf(Worker w, boolean withFds) {
        List<String> names = new ArrayList<>();
        int[] fds = new int[withFds ? w.generation.listeners.size() : 0];
        int made = 0;
        try {
            for (Listener l : w.generation.listeners) {
                names.add(l.name());
                if (withFds) {
                    fds[made] = Posix.dupCloexec(l.fd(), 3);
                    made++;
                }
            }
        } catch (NativeException e) {
            for (int i = 0; i < made; i++) {
                Libc.close(fds[i]);
            }
            return new Control.Grant(w.pid(), names, new int[0], e.getMessage());
        }
        return new Control.Grant(w.pid(), names, fds, null);
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
        this.startedNanos = clock.getAsLong();
        this.imageStartedNanos = startedNanos;
        return listeners.acquire(first.listeners);
    }

    /**
     * Runs generation 1 (with the listeners from {@link #bind}; null after {@link #takeOver}) and
     * the loop until stopped; returns the exit code.
     */
    public int run(List<Listener> bound) {
        if (bound != null) {
            post(() -> startFirst(bound));
        }
        after(AcceptQueueWatch.TICK, this::watchAcceptQueues);
        try {
            while (!finished) {
                Timer next = nextTimer();
                Runnable e = next == null ? events.take()
                        : events.poll(Math.max(0, next.dueNanos - clock.getAsLong()), TimeUnit.NANOSECONDS);
                turn(e);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            exitCode = Wire.EXIT_SOFTWARE;
        } finally {
            listeners.closeAll();
        }
        return exitCode;
    }

    /**
     * Queues what the previous image handed over as the first event, before any request the
     * control socket or a signal brings; then {@link #run} with null.
     */
    public void takeOver(State s) {
        post(() -> restore(s));
    }

    /** Tests: queues generation 1, as {@link #run} does, for {@link #step} to start. */
    void begin(List<Listener> bound) {
        post(() -> startFirst(bound));
    }

    /**
     * Tests: on the calling thread, handles every queued event and every timer due by the clock,
     * until none is left; returns whether the supervisor has finished.
     */
    boolean step() {
        while (!finished) {
            Runnable e = events.poll();
            Timer next = nextTimer();
            boolean due = next != null && next.dueNanos - clock.getAsLong() <= 0;
            if (e == null && !due) {
                break;
            }
            turn(e);
        }
        return finished;
    }

    int exitCode() {
        return exitCode;
    }

    /** One turn of the loop: an event (or none), then the timers due, under a guard. */
    private void turn(Runnable e) {
        try {
            if (e != null) {
                e.run();
            }
            runDueTimers();
            checkInvariants();
        } catch (RuntimeException bug) {
            // Expected failures (a spawn, a config, a bind) are handled where they happen;
            // anything else is a bug that may have left the state half changed.
            log.info("internal error, exiting: " + stackTrace(bug));
            for (Generation g : generations) {
                for (Worker w : g.live) {
                    w.process.kill();
                }
            }
            exitCode = Wire.EXIT_SOFTWARE;
            finished = true;
        }
    }

    private static String stackTrace(Throwable t) {
        java.io.StringWriter w = new java.io.StringWriter();
        t.printStackTrace(new java.io.PrintWriter(w));
        return w.toString();
    }

    private Timer nextTimer() {
        while (!timers.isEmpty() && timers.peek().cancelled) {
            timers.poll();
        }
        return timers.peek();
    }

    private void runDueTimers() {
        long now = clock.getAsLong();
        for (Timer t = nextTimer(); t != null && t.dueNanos - now <= 0; t = nextTimer()) {
            timers.poll();
            t.action.run();
        }
    }

    private Timer after(Duration d, Runnable action) {
        return at(clock.getAsLong() + d.toNanos(), action);
    }

    private Timer at(long dueNanos, Runnable action) {
        Timer t = new Timer(dueNanos, timerSeq++, action);
        timers.add(t);
        return t;
    }

    void checkInvariants() {
        int readyCount = 0;
        for (Generation g : generations) {
            if (g.state == Generation.State.READY) {
                readyCount++;
            }
            boolean waiting = g.state == Generation.State.DRAINING || g.state == Generation.State.FAILED;
            if (g != serving && g != starting && !waiting) {
                throw new IllegalStateException("invariant broken: " + g + " is " + g.state + " but neither serving nor starting: " + generations);
            }
        }
        boolean servingOk = serving == null || serving.state == Generation.State.READY || serving.state == Generation.State.DRAINING
                || (serving.state == Generation.State.STARTING && serving.number == 1);
        if (readyCount > 1 || !servingOk || (starting != null && (starting == serving || starting.state != Generation.State.STARTING))) {
            throw new IllegalStateException("invariant broken: " + readyCount + " ready, serving " + serving + ", starting " + starting + ": "
                    + generations);
        }
    }

    // ---- generations ----

    private void startFirst(List<Listener> bound) {
        after(TREE_PERIOD, this::watchTrees);
        after(LISTENER_CHECK, this::watchListeners);
        Generation g = newGeneration(config, bound);
        serving = g;
        log.info("starting " + g + ": " + config.workers + " x " + String.join(" ", config.command));
        firstReadyTimeoutAt(g, clock.getAsLong() + config.readyTimeout.toNanos());
        spawnAll(g);
    }

    private void firstReadyTimeoutAt(Generation g, long due) {
        g.readyTimer = at(due, () -> {
            if (g.state == Generation.State.STARTING) {
                // No predecessor to fall back on: it keeps its slots and restarts, but say it.
                log.info(g + " was not ready within " + Durations.format(g.config.readyTimeout) + " (--ready-timeout); its workers"
                        + " keep being restarted as they exit: 'supervisor status' shows their restarts");
            }
        });
    }

    private void requestReload(String trigger, Consumer<ReloadResult> done) {
        if (stopping) {
            done.accept(ReloadResult.failed(lastGeneration, "the supervisor is stopping", List.of()));
        } else if (starting != null || failing != null || upgrading) {
            Generation running = starting != null ? starting : failing;
            if (pendingReload == null) {
                pendingReload = new ArrayList<>();
                log.info("reload requested while " + (running == null ? "the supervisor upgrades"
                        : running + (starting != null ? " starts" : "'s failure is reported")) + ": merged into one more reload after it");
            }
            emit(SupervisorEvent.Kind.RELOAD_MERGED, running == null ? 0 : running.number, -1, null);
            pendingReload.add(done);
            pendingSignalReload |= !ReloadHistory.CONTROL.equals(trigger); // a control request is in flight: it crosses an upgrade by itself
            history.merged(trigger);
        } else {
            startReload(List.of(done), trigger);
        }
    }

    /** {@code trigger} null: the requests merged while the last reload ran. */
    private void startReload(List<Consumer<ReloadResult>> waiters, String trigger) {
        long requested = clock.getAsLong();
        history.requested(trigger, requested);
        reloadWaiters.addAll(waiters);
        log.info("reload requested");
        manager.accept(Wire.RELOADING + "\n" + SystemdNotifier.monotonicUsec());
        Config next;
        List<Listener> bound;
        checkListeners(); // a socket a worker shut down is replaced by this reload
        List<Listener> before = new ArrayList<>(listeners.all());
        try {
            next = configSource.get();
            bound = listeners.acquire(next.listeners);
        } catch (RuntimeException e) {
            log.info("reload failed: " + e.getMessage());
            finishReload(ReloadResult.failed(lastGeneration, e.getMessage(), List.of()));
            return;
        }
        for (Listener l : bound) {
            if (before.stream().noneMatch(l::sameSocket)) {
                log.info("listening " + l.name() + "=" + l.bound() + (l.inherited() ? " (inherited)" : "") + " (added by this reload)");
            }
        }
        config = next;
        Generation g = newGeneration(next, bound);
        g.requestedNanos = requested;
        history.starting(g, serving);
        starting = g;
        g.readyTimer = after(next.readyTimeout, () -> {
            if (g.state == Generation.State.STARTING) {
                failGeneration(g, g + " was not ready within " + Durations.format(next.readyTimeout), firstNotReady(g));
            }
        });
        if (next.startingPriority != Priority.NORMAL) {
            // Low priority takes only idle CPU: on a saturated machine that is none, and the reload would starve.
            Duration half = next.readyTimeout.dividedBy(2);
            Duration low = next.startingPriorityFor.compareTo(half) < 0 ? next.startingPriorityFor : half;
            g.priorityTimer = after(low, () -> {
                if (g.state == Generation.State.STARTING && !g.raised) {
                    raisePriority(g); // first: whoever reads the line may count on it
                    log.info(g + " not ready after " + Durations.format(low) + " at low priority; raised to normal");
                }
            });
        }
        log.info("starting " + g + ": " + next.workers + " x " + String.join(" ", next.command));
        spawnAll(g);
    }

    private Generation newGeneration(Config c, List<Listener> bound) {
        Generation g = new Generation(++lastGeneration, c, bound, clock.getAsLong());
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
        long spawned = clock.getAsLong();
        try {
            // The exit hook fires on another thread; the loop handles it after this event, when self is set.
            p = spawner.spawn(spec(g, slot), () -> post(() -> onExit(self[0])),
                    (text, received, sender) -> post(() -> onNotify(self[0], text, received, sender)));
        } catch (Spawner.SpawnException e) {
            onSpawnFailure(g, slot, backoff, e.getMessage());
            return;
        }
        Worker w = new Worker(g, slot, p, spawned, backoff);
        self[0] = w;
        g.slots[slot] = w;
        g.live.add(w);
        log.info("started " + w);
        emit(SupervisorEvent.Kind.WORKER_STARTED, g.number, slot, w.pid());
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
            String opts = extra.remove(Wire.JDK_JAVA_OPTIONS);
            extra.putAll(ListenFds.environment(names));
            extra.put(Wire.SUPERVISOR_GENERATION, Integer.toString(g.number));
            extra.put(Wire.SUPERVISOR_DRAIN_SIGNAL, Signals.shortName(g.config.drainSignal));
            extra.putAll(g.config.env);
            Environment env = PosixSpawner.workerEnvironment(baseEnv, extra);
            g.env = opts == null || !JavaFlags.needed(g.config.command) ? env : env.appending(Wire.JDK_JAVA_OPTIONS, opts);
        }
        Environment env = g.env.with(Map.of(Wire.SUPERVISOR_WORKER, Integer.toString(slot)));
        int stdin = g.config.stdinListener == null ? -1 : names.indexOf(g.config.stdinListener);
        // Only a reload's generation starts low: generation 1 and restarted workers have no one to yield to.
        Priority priority = g == starting && !g.raised ? g.config.startingPriority : Priority.NORMAL;
        return new Spawner.Spec(g.config.argv(), env, g.listeners, stdin, g.number, slot, priority);
    }

    private void onSpawnFailure(Generation g, int slot, Backoff backoff, String message) {
        log.info(g + " worker " + slot + ": " + message);
        if (g == starting) {
            failGeneration(g, message, null);
        } else if (g == serving && !stopping) {
            scheduleRestart(g, slot, backoff, Duration.ZERO);
        }
    }

    /** {@code w} said it is ready (or its delay ended) at {@code readyNanos}. */
    private void markReady(Worker w, long readyNanos) {
        w.state = Worker.State.READY;
        w.readyNanos = readyNanos;
        emit(SupervisorEvent.Kind.WORKER_READY, w.generation.number, w.slot, null);
        Generation g = w.generation;
        if (g.state == Generation.State.STARTING && g.allReady()) {
            promote(g);
        }
    }

    private void raisePriority(Generation g) {
        g.raised = true;
        for (Worker w : g.live) {
            w.process.raisePriority();
        }
    }

    /** {@code g} is ready: it serves from now on and the one before it drains. */
    private void promote(Generation g) {
        // Before the old generation drains, so the new one serves at full priority.
        if (!g.raised) {
            raisePriority(g);
        }
        g.state = Generation.State.READY;
        g.readyNanos = clock.getAsLong();
        if (g.readyTimer != null) {
            g.readyTimer.cancel();
        }
        if (g.priorityTimer != null) {
            g.priorityTimer.cancel();
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
        emit(SupervisorEvent.Kind.GENERATION_READY, g.number, -1, null);
        if (old != null && old != g) {
            drain(old);
            log.info(g + timing + "; draining " + old);
        } else {
            log.info(g + timing);
        }
        if (g == starting) {
            starting = null;
            history.ready(g.readyNanos, g.overheadNanos, System.currentTimeMillis());
            finishReload(ReloadResult.ok(g.number));
        } else if (!stopping) {
            // Generation 1, which no reload started: a reload running now waits for its own generation.
            manager.accept(Wire.READY + "\n" + Wire.STATUS_PREFIX + "serving generation " + g.number);
        }
    }

    /** Answers everyone waiting for the reload that just ended, then runs the merged one, if any. */
    private void finishReload(ReloadResult result) {
        history.finished(result.ok, result.error, clock.getAsLong());
        List<Consumer<ReloadResult>> waiters = reloadWaiters;
        reloadWaiters = new ArrayList<>();
        for (Consumer<ReloadResult> w : waiters) {
            w.accept(result);
        }
        if (!stopping && serving != null) {
            manager.accept(Wire.READY + "\n" + Wire.STATUS_PREFIX + servingStatus());
        }
        if (pendingUpgrade != null && !stopping) {
            List<Consumer<String>> next = pendingUpgrade;
            pendingUpgrade = null;
            startUpgrade(next);
        } else {
            startPendingReload();
        }
    }

    private void startPendingReload() {
        if (pendingReload != null && !stopping) {
            List<Consumer<ReloadResult>> next = pendingReload;
            pendingReload = null;
            pendingSignalReload = false;
            startReload(next, null);
        }
    }

    /** STATUS= for the service manager: after an upgrade it names the version. */
    private String servingStatus() {
        return "serving generation " + (serving == null ? 0 : serving.number) + (upgrades > 0 ? " (supervisor " + Version.current() + ")" : "");
    }

    private void drain(Generation g) {
        g.state = Generation.State.DRAINING;
        emit(SupervisorEvent.Kind.GENERATION_DRAINING, g.number, -1, null);
        for (Worker w : g.live) {
            if (w.state != Worker.State.EXITED) {
                w.state = Worker.State.DRAINING;
            }
            // The whole tree: a wrapper that does not exec passes no signal on.
            w.process.signal(g.config.drainSignal);
            drainWatch.accept(w.pid());
        }
        drainTimeoutAt(g, clock.getAsLong() + g.config.drainTimeout.toNanos());
        exitIfDone(g);
    }

    private void drainTimeoutAt(Generation g, long due) {
        g.drainTimer = at(due, () -> {
            for (Worker w : g.live) {
                log.info(w + " still running " + Durations.format(g.config.drainTimeout) + " after the drain signal: killing it");
                w.killedAtDrainTimeout = true;
                emit(SupervisorEvent.Kind.WORKER_KILLED_AT_DRAIN_TIMEOUT, g.number, w.slot, null);
                w.process.kill();
            }
        });
    }

    /**
     * The new generation did not come up: kill it, leave the serving one untouched. The reload is
     * answered with the last stderr lines of {@code lastWords} (none when null), which arrive as
     * an event once its pipe has ended: the loop does not wait for them.
     */
    private void failGeneration(Generation g, String reason, Worker lastWords) {
        g.state = Generation.State.FAILED;
        emit(SupervisorEvent.Kind.GENERATION_FAILED, g.number, -1, reason);
        if (g.readyTimer != null) {
            g.readyTimer.cancel();
        }
        if (g.priorityTimer != null) {
            g.priorityTimer.cancel();
        }
        if (starting == g) {
            starting = null;
        }
        if (serving != null) {
            // The failed config is not in effect: a listener only it named is closed once g has gone.
            config = serving.config;
        }
        for (Worker w : g.live) {
            w.process.kill();
        }
        failing = g;
        if (lastWords != null) {
            lastWords.process.stderrTail(lines -> post(() -> reloadFailed(g, reason, lines)));
        }
        exitIfDone(g);
        if (lastWords == null) {
            reloadFailed(g, reason, List.of());
        }
    }

    private void reloadFailed(Generation g, String reason, List<String> stderr) {
        failing = null;
        log.info("reload failed: " + reason + (serving != null ? "; " + serving + " keeps serving" : ""));
        for (String line : stderr) {
            log.info("  | " + line);
        }
        finishReload(ReloadResult.failed(g.number, reason, stderr));
        finishIfStopped();
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

    /** The spawner saw the worker exit; processes of its tree may still run. */
    private void onExit(Worker w) {
        if (w.state == Worker.State.EXITED) {
            return;
        }
        int status = w.process.reap();
        Worker.State was = w.state;
        w.state = Worker.State.EXITED;
        Generation g = w.generation;
        emit(SupervisorEvent.Kind.WORKER_EXITED, g.number, w.slot, ExitStatus.describe(status));
        if (w.process.alive() && g == serving && !stopping) {
            // Its slot is started again: what is left of it would serve beside its successor.
            log.info(w + " left processes behind: killing them");
            w.process.kill();
        }
        forgetIfGone(w);
        Duration served = Duration.ofNanos(clock.getAsLong() - w.startedNanos);
        log.info(w + " " + ExitStatus.describe(status)
                + (w.killedAtDrainTimeout ? " (at the drain timeout)" : w.killedAtStop ? " (immediate stop)"
                        : was == Worker.State.DRAINING ? " (drained)" : ""));
        g.lastExit[w.slot] = ExitStatus.describe(status);
        if (g == starting) {
            failGeneration(g, w + " " + ExitStatus.describe(status) + " before it was ready", w);
        } else if (g == serving && !stopping && g.slots[w.slot] == w) {
            scheduleRestart(g, w.slot, w.backoff, served);
        }
        exitIfDone(g);
    }

    /** A worker is gone from its generation once its last process is. */
    private void forgetIfGone(Worker w) {
        if (w.state == Worker.State.EXITED && !w.process.alive()) {
            w.generation.live.remove(w);
        }
    }

    /** Every {@link #TREE_PERIOD}: finds new descendants and orphans, and which trees have ended. */
    private void watchTrees() {
        spawner.refresh();
        for (Generation g : new ArrayList<>(generations)) {
            for (Worker w : new ArrayList<>(g.live)) {
                forgetIfGone(w);
            }
            exitIfDone(g);
        }
        if (!finished) {
            after(TREE_PERIOD, this::watchTrees);
        }
    }

    private void scheduleRestart(Generation g, int slot, Backoff backoff, Duration served) {
        Duration delay = backoff.next(served);
        log.info("restarting " + g + " worker " + slot + " in " + delay.toMillis() + " ms");
        emit(SupervisorEvent.Kind.RESTART_SCHEDULED, g.number, slot, delay.toMillis());
        restartAt(g, slot, backoff, clock.getAsLong() + delay.toNanos());
    }

    private void restartAt(Generation g, int slot, Backoff backoff, long due) {
        g.restartBackoffs[slot] = backoff;
        Timer t = at(due, () -> {
            g.restartDueNanos[slot] = 0;
            if (g == serving && !stopping && (g.slots[slot] == null || g.slots[slot].state == Worker.State.EXITED)) {
                g.restarts[slot]++;
                workerRestarts++;
                spawnWorker(g, slot, backoff);
                if (g.slots[slot] != null) {
                    g.slots[slot].restarts = g.restarts[slot];
                }
            }
        });
        g.restartDueNanos[slot] = t.dueNanos;
    }

    private void exitIfDone(Generation g) {
        boolean over = g.live.isEmpty() && (g.state == Generation.State.DRAINING || g.state == Generation.State.FAILED);
        if (over) {
            g.state = Generation.State.EXITED;
            if (g.drainTimer != null) {
                g.drainTimer.cancel();
            }
            generations.remove(g);
            history.exited(g, clock.getAsLong());
            if (g == serving) {
                serving = null;
            }
            for (Listener l : listeners.release(g.listeners, config.listeners)) {
                log.info("closed listener " + l + ": no generation uses it");
                emit(SupervisorEvent.Kind.LISTENER_CLOSED, g.number, -1, l.name());
            }
            log.info(g + " exited");
            emit(SupervisorEvent.Kind.GENERATION_EXITED, g.number, -1, null);
        }
        finishIfStopped();
    }

    /** A stopping supervisor has finished once no generation is left and no failed reload awaits its answer. */
    private void finishIfStopped() {
        if (stopping && generations.isEmpty() && failing == null && !finished) {
            int strays = spawner.killStrays();
            if (strays > 0) {
                log.info("killed " + strays + " process" + (strays == 1 ? "" : "es") + " that belonged to no worker");
            }
            log.info("stopped");
            emit(SupervisorEvent.Kind.STOPPED, -1, -1, null);
            finished = true;
        }
    }

    // ---- stop ----

    private void requestStop() {
        if (stopping) {
            log.info("second stop request: killing every worker");
            for (Generation g : generations) {
                for (Worker w : g.live) {
                    w.killedAtStop = true;
                    w.process.kill();
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
        // The check still runs; its end changes nothing now, and the loop may be over by then.
        upgradeWaiters.forEach(w -> w.accept("the supervisor is stopping"));
        upgradeWaiters.clear();
        emit(SupervisorEvent.Kind.STOPPING, -1, -1, null);
        manager.accept(Wire.STOPPING);
        if (pendingReload != null) {
            pendingReload.forEach(w -> w.accept(ReloadResult.failed(lastGeneration, "the supervisor is stopping", List.of())));
            pendingReload = null;
        }
        if (starting != null) {
            failGeneration(starting, "the supervisor is stopping", null);
        }
        for (Generation g : new ArrayList<>(generations)) {
            if (g.state == Generation.State.STARTING || g.state == Generation.State.READY) {
                drain(g);
            }
        }
        finishIfStopped();
    }

    // ---- listeners ----

    private void watchListeners() {
        checkListeners();
        if (!finished) {
            after(LISTENER_CHECK, this::watchListeners);
        }
    }

    /** Logs each listener a worker shut down, with the generations that held it then. */
    private void checkListeners() {
        for (Listener l : listeners.shutDown()) {
            List<String> holders = new ArrayList<>();
            for (Generation g : generations) {
                if (g.listeners.stream().anyMatch(x -> x.socket == l.socket)) {
                    holders.add(g.toString());
                }
            }
            l.socket.shutDownBy = String.join(", ", holders);
            log.info("listener " + l + " stopped accepting: a worker of " + l.socket.shutDownBy
                    + " shut it down; the next reload gets a fresh socket on " + l.bound());
        }
    }

    // ---- notify ----

    /** A message on {@code w}'s own NOTIFY_SOCKET, from {@code sender} (w, or a process it started). */
    private void onNotify(Worker w, String message, long receivedNanos, long sender) {
        for (String line : message.split("\n")) {
            if (line.equals(Wire.READY)) {
                if (w.state == Worker.State.STARTING && w.generation.config.ready.isNotify()) {
                    markReady(w, receivedNanos);
                } else if (w.state == Worker.State.EXITED) {
                    log.info("READY=1 from pid " + sender + " on the socket of " + w + ", which has exited: ignored");
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
        long now = clock.getAsLong();
        ObjectNode s = Message.json().createObjectNode();
        s.put("pid", ProcessHandle.current().pid());
        s.put("version", Version.current());
        s.put("uptime_ms", (now - startedNanos) / 1_000_000);
        s.put("upgrades", upgrades);
        s.put("upgrading", upgrading);
        s.put("image_started", java.time.Instant.ofEpochMilli(imageStartedEpochMillis).toString());
        s.put("image_uptime_ms", (now - imageStartedNanos) / 1_000_000);
        if (lastUpgradePauseNanos >= 0) {
            s.put("last_upgrade_pause_ms", lastUpgradePauseNanos / 1_000_000);
        }
        s.put("serving", serving == null ? 0 : serving.number);
        s.put("reloading", starting != null || failing != null);
        s.put("stopping", stopping);
        ArrayNode ls = s.putArray("listeners");
        for (Listener l : listeners.all()) {
            ObjectNode lj = ls.addObject().put("name", l.name()).put("address", l.address().toString()).put("bound", l.bound())
                    .put("state", l.state().name());
            if (l.shutDownBy() != null) {
                lj.put("shut_down_by", l.shutDownBy());
            }
            int[] q = acceptQueue(l);
            if (q != null) {
                lj.putObject("accept_queue").put("length", q[0]).put("limit", q[1]);
            }
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
            for (int slot = 0; slot < g.slots.length; slot++) {
                if (g.restartDueNanos[slot] != 0 && (g.slots[slot] == null || g.slots[slot].state == Worker.State.EXITED)) {
                    // A crash-looping slot has no live worker: show it waiting, not an empty list.
                    ObjectNode wj = ws.addObject();
                    wj.put("worker", slot);
                    wj.put("state", "RESTARTING");
                    wj.put("restarts", g.restarts[slot]);
                    wj.put("next_attempt_ms", Math.max(0, (g.restartDueNanos[slot] - now) / 1_000_000));
                    if (g.lastExit[slot] != null) {
                        wj.put("last_exit", g.lastExit[slot]);
                    }
                }
            }
        }
        history.toJson(s.putArray("reloads"), startedNanos);
        return s;
    }

    // ---- what /metrics shows, and the accept queue watch ----

    private Snapshot snapshot() {
        Map<String, Integer> gens = new LinkedHashMap<>();
        Map<String, Integer> workers = new LinkedHashMap<>();
        for (Generation.State st : Generation.State.values()) {
            if (st != Generation.State.EXITED) {
                gens.put(st.name().toLowerCase(Locale.ROOT), 0);
            }
        }
        for (Worker.State st : Worker.State.values()) {
            if (st != Worker.State.EXITED) {
                workers.put(st.name().toLowerCase(Locale.ROOT), 0);
            }
        }
        for (Generation g : generations) {
            gens.merge(g.state.name().toLowerCase(Locale.ROOT), 1, Integer::sum);
            for (Worker w : g.live) {
                workers.merge(w.state.name().toLowerCase(Locale.ROOT), 1, Integer::sum);
            }
        }
        List<Snapshot.ListenerQueue> queues = new ArrayList<>();
        for (Listener l : listeners.all()) {
            int[] q = acceptQueue(l);
            queues.add(new Snapshot.ListenerQueue(l.name(), q == null ? -1 : q[0], q == null ? -1 : q[1]));
        }
        boolean ready = serving != null && serving.state == Generation.State.READY && !stopping;
        return new Snapshot(serving == null ? 0 : serving.number, ready, gens, workers, workerRestarts, history.totals(), queues, census());
    }

    /** The listeners' fds and each live generation's worker pids, for {@link Connections#count} off this thread. */
    private Connections.Census census() {
        List<Integer> fds = new ArrayList<>();
        for (Listener l : listeners.all()) {
            if (l.address().kind() == Address.Kind.TCP) {
                fds.add(l.fd());
            }
        }
        Map<Integer, List<Integer>> pids = new LinkedHashMap<>();
        for (Generation g : generations) {
            List<Integer> ps = new ArrayList<>();
            for (Worker w : g.live) {
                ps.add(w.pid());
            }
            pids.put(g.number, ps);
        }
        return new Connections.Census(fds, pids);
    }

    /** {length, limit} of a TCP listener's accept queue; null for any other (a fake one of the tests has fd -1). */
    private static int[] acceptQueue(Listener l) {
        return l.address().kind() == Address.Kind.TCP && l.isOpen() && l.fd() >= 0 ? Posix.acceptQueue(l.fd()) : null;
    }

    /** Every tick: warns of a listener whose accept queue stays above half its limit. */
    private void watchAcceptQueues() {
        long now = clock.getAsLong();
        Set<String> seen = new HashSet<>();
        for (Listener l : listeners.all()) {
            int[] q = acceptQueue(l);
            if (q != null) {
                seen.add(l.name());
                String warning = queueWatch.sample(l.name(), q[0], q[1], now, () -> acceptors(l));
                if (warning != null) {
                    log.info("warning: " + warning);
                }
            }
        }
        queueWatch.retain(seen);
        after(AcceptQueueWatch.TICK, this::watchAcceptQueues);
    }

    /** Who should be taking connections from {@code l}. */
    private String acceptors(Listener l) {
        List<String> who = new ArrayList<>();
        if (serving != null && serving.listeners.stream().anyMatch(l::sameSocket)) {
            who.add(serving + " (" + serving.state.name().toLowerCase(Locale.ROOT) + ")");
        }
        if (starting != null && starting.listeners.stream().anyMatch(l::sameSocket)) {
            who.add(starting + " (starting)");
        }
        return who.isEmpty() ? "no generation serves it" : "not accepted by " + String.join(" or ", who);
    }

    // ---- upgrade: serialized with reloads and stop; the state crosses the exec as a document ----

    private void requestUpgrade(Consumer<String> failed) {
        if (swap == null) {
            failed.accept("this supervisor cannot upgrade itself: it was not started by its launcher (bin/supervisor)");
        } else if (stopping) {
            failed.accept("the supervisor is stopping");
        } else if (upgrading) {
            upgradeWaiters.add(failed);
        } else if (starting != null || failing != null) {
            if (pendingUpgrade == null) {
                pendingUpgrade = new ArrayList<>();
                log.info("upgrade requested while " + (starting != null ? starting : failing) + " is reloaded: it runs after that reload");
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
        // The check takes over this very state, as far as it can without the fds.
        byte[] sample = StateFile.toBytes(handOver());
        Thread t = new Thread(() -> {
            String failure;
            try {
                failure = swap.check(sample);
            } catch (RuntimeException e) {
                failure = e.toString();
            }
            String f = failure;
            post(() -> onChecked(f));
        }, "upgrade-check");
        t.setDaemon(true);
        t.start();
    }

    /**
     * The new installation passed its check (or not): stop the threads that feed this one, then,
     * with the signals we handle held, handle what was queued, write the state and exec. Anything
     * that fails before the exec leaves this image as it was.
     */
    private void onChecked(String failure) {
        if (failure != null || stopping) {
            endUpgrade(failure != null ? failure : "the supervisor is stopping");
            return;
        }
        manager.accept(Wire.RELOADING + "\n" + SystemdNotifier.monotonicUsec() + "\n" + Wire.STATUS_PREFIX + "upgrading from "
                + Version.current());
        if (!spawner.pause()) {
            spawner.resume();
            endUpgrade("the output and notify threads did not stop in time");
            return;
        }
        State.ControlState control;
        try {
            control = swap.freezeControl();
        } catch (IOException e) {
            spawner.resume();
            endUpgrade(e.getMessage());
            return;
        }
        try {
            swap.exec(() -> {
                // What the stopped threads and the signals queued before they stopped: exits, notify messages, requests.
                for (Runnable e; (e = events.poll()) != null; ) {
                    e.run();
                }
                runDueTimers();
                if (stopping) {
                    return null;
                }
                State s = handOver();
                s.control = control;
                log.info("upgrading: handing " + generations.size() + " generation" + (generations.size() == 1 ? "" : "s")
                        + " over to the new image");
                return s;
            });
            // Only a stop gets here: the exec did not happen.
            swap.thawControl();
            spawner.resume();
            endUpgrade("the supervisor is stopping");
        } catch (IOException e) {
            swap.thawControl();
            spawner.resume();
            endUpgrade("cannot execute the new image: " + e.getMessage());
        } catch (RuntimeException e) {
            log.info("the upgrade failed before the exec: " + stackTrace(e));
            swap.thawControl();
            spawner.resume();
            endUpgrade("the hand-over failed before the exec: " + e);
        }
    }

    private void endUpgrade(String failure) {
        upgrading = false;
        String error = failure + "; " + Version.current() + " keeps running";
        log.info("upgrade failed: " + error);
        List<Consumer<String>> waiters = upgradeWaiters;
        upgradeWaiters = new ArrayList<>();
        waiters.forEach(w -> w.accept(error));
        if (!stopping) {
            manager.accept(Wire.READY + "\n" + Wire.STATUS_PREFIX + servingStatus());
        }
        startPendingReload();
    }

    /** Everything the next image needs, on this thread, with the feeding threads stopped. */
    private State handOver() {
        State s = new State();
        s.version = Version.current();
        s.writtenNanos = clock.getAsLong();
        s.startedNanos = startedNanos;
        s.startedEpochMillis = startedEpochMillis;
        s.upgrades = upgrades + 1;
        s.lastGeneration = lastGeneration;
        s.serving = serving == null ? 0 : serving.number;
        s.config = config.text();
        s.pendingReload = pendingReload != null && pendingSignalReload;
        s.workerRestarts = workerRestarts;
        s.history = history.save();
        s.notifySockets = spawner.notifySockets();
        List<Listener.Socket> sockets = listeners.sockets();
        for (Listener.Socket so : sockets) {
            s.sockets.add(so.save(listeners.retired(so)));
        }
        for (Generation g : generations) {
            State.GenerationState gs = g.save(sockets);
            for (Worker w : g.live) {
                gs.workers.add(w.save(g.slots[w.slot] == w));
            }
            s.generations.add(gs);
        }
        return s;
    }

    /**
     * Whether this build can take over {@code s}: every config it carries makes a Config here,
     * every address, state and reference is one this build knows. Throws what is wrong; checks
     * everything before anything is taken over, and is what an upgrade's pre-flight runs.
     */
    public static void check(State s, Function<byte[], Config> configOf) {
        configOf.apply(s.config);
        for (State.SocketState ss : s.sockets) {
            Address.parse(ss.address);
        }
        boolean serving = s.serving == 0;
        for (State.GenerationState gs : s.generations) {
            Config c = configOf.apply(gs.config);
            Generation.State.valueOf(gs.state);
            serving |= gs.number == s.serving;
            for (int i : gs.listenerSockets) {
                if (i < 0 || i >= s.sockets.size()) {
                    throw new IllegalArgumentException("generation " + gs.number + " names socket " + i + " of " + s.sockets.size());
                }
            }
            if (gs.listenerNames.size() != gs.listenerSockets.size() || gs.restartDueNanos.length != c.workers
                    || gs.restartBackoffMillis.length != c.workers || gs.restarts.length != c.workers || gs.lastExit.length != c.workers) {
                throw new IllegalArgumentException("generation " + gs.number + " does not match its config's " + c.workers + " workers");
            }
            for (State.WorkerState ws : gs.workers) {
                Worker.State.valueOf(ws.state);
                if (ws.slot < 0 || ws.slot >= c.workers || ws.pid <= 0) {
                    throw new IllegalArgumentException("generation " + gs.number + " has a worker in slot " + ws.slot + " with pid " + ws.pid);
                }
            }
        }
        if (!serving) {
            throw new IllegalArgumentException("the serving generation " + s.serving + " is not in the state");
        }
    }

    /** Runs {@code r} on the supervisor thread once the state handed over is taken over (before any request). */
    @Override
    public void afterTakeOver(Runnable r) {
        post(r);
    }

    /** The new image's first event: the previous image's state becomes this one's. */
    private void restore(State s) {
        check(s, configOf); // again: a failure here is a bug, not a half-done take-over
        long now = clock.getAsLong();
        imageStartedNanos = now;
        startedNanos = s.startedNanos;
        startedEpochMillis = s.startedEpochMillis;
        upgrades = s.upgrades;
        lastGeneration = s.lastGeneration;
        workerRestarts = s.workerRestarts;
        config = configOf.apply(s.config);
        spawner.notifySocketsBefore(s.notifySockets);
        List<Listener.Socket> sockets = new ArrayList<>();
        for (State.SocketState ss : s.sockets) {
            Listener.Socket so = Listener.Socket.restored(ss);
            listeners.adopt(so, ss.retired);
            sockets.add(so);
        }
        for (State.GenerationState gs : s.generations) {
            List<Listener> used = new ArrayList<>();
            for (int i = 0; i < gs.listenerNames.size(); i++) {
                used.add(Listeners.use(gs.listenerNames.get(i), sockets.get(gs.listenerSockets.get(i))));
            }
            Generation g = Generation.restored(gs, configOf.apply(gs.config), used);
            generations.add(g);
            if (g.number == s.serving) {
                serving = g;
            }
            for (State.WorkerState ws : gs.workers) {
                Worker[] self = new Worker[1];
                Spawner.Process p = spawner.adopt(ws.pid, g.number, ws.slot,
                        new Spawner.Kept(ws.stdoutFd, ws.stderrFd, ws.notifyFd, ws.notifyPath, ws.reaped),
                        () -> post(() -> onExit(self[0])), (text, received, sender) -> post(() -> onNotify(self[0], text, received, sender)));
                Worker w = Worker.restored(g, p, ws);
                self[0] = w;
                g.live.add(w);
                if (ws.current) {
                    g.slots[ws.slot] = w;
                }
                if (w.state == Worker.State.STARTING && !g.config.ready.isNotify()) {
                    readyAfterDelay(w);
                }
            }
            if (gs.readyTimeoutNanos != 0 && g == serving && g.state == Generation.State.STARTING) {
                firstReadyTimeoutAt(g, gs.readyTimeoutNanos);
            }
            if (gs.drainTimeoutNanos != 0) {
                drainTimeoutAt(g, gs.drainTimeoutNanos);
            }
            for (int slot = 0; slot < g.slots.length; slot++) {
                if (gs.restartDueNanos[slot] != 0) {
                    restartAt(g, slot, Backoff.resumed(gs.restartBackoffMillis[slot]), gs.restartDueNanos[slot]);
                }
            }
        }
        history.restore(s.history, n -> generations.stream().filter(g -> g.number == n).findFirst().orElse(null));
        after(TREE_PERIOD, this::watchTrees);
        after(LISTENER_CHECK, this::watchListeners);
        lastUpgradePauseNanos = Math.max(0, now - s.writtenNanos);
        log.info("upgraded from " + s.version + " to " + Version.current() + " (upgrade " + upgrades + ", " + lastUpgradePauseNanos / 1_000_000
                + " ms from the hand-over): " + generations.size() + " generation" + (generations.size() == 1 ? "" : "s") + ", serving "
                + (serving == null ? "none" : serving));
        manager.accept(Wire.READY + "\n" + Wire.STATUS_PREFIX + servingStatus());
        if (s.pendingReload) {
            pendingReload = new ArrayList<>(List.of(r -> log.info("the reload asked for during the upgrade: "
                    + (r.ok ? "generation " + r.generation + " serves" : "failed: " + r.error))));
            startPendingReload();
        }
    }

    /** What the new image answers an {@code upgrade} request it finds in flight. */
    public static ObjectNode upgradedAnswer(String from, int upgrades) {
        return Message.answer(true).put("from", from).put("to", Version.current()).put("upgrades", upgrades);
    }
}
