package dev.supervisor.it.systemd;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A real systemd as PID 1 of a container: {@code systemd-nspawn --boot} of the cached
 * {@link Rootfs}, with a private network namespace (only {@code lo}), a tmpfs overlay over the
 * root file system (it stays as built) and host directories bound read-only. Commands run inside
 * through {@code nsenter} into every namespace of the container's PID 1 (machinectl needs a
 * systemd on the host, which these machines may not have).
 *
 * <p>nspawn runs in a cgroup of its own ({@code NAME} under each cgroup hierarchy's root) since
 * the host may have no systemd to give it a scope. {@link #close} ends the container (TERM to
 * nspawn, then KILL to anything left in that cgroup) and removes the cgroups, whatever the test
 * did; a container left by a killed test JVM is ended by the next {@link #boot}.
 */
final class SystemdContainer implements AutoCloseable {
    private static final String PREFIX = "supervisor-it-";
    private static final AtomicInteger COUNT = new AtomicInteger();
    private static final Duration BOOT = Duration.ofSeconds(120);
    private static final Duration HALT = Duration.ofSeconds(20);
    private static final String PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private final String name;
    private final Process nspawn;
    private final Path console;
    private final List<Path> cgroups;
    private final List<Process> started = new ArrayList<>();
    private final Thread hook = new Thread(this::end, "end container");
    private long leader;

    private SystemdContainer(String name, Process nspawn, Path console, List<Path> cgroups) {
        this.name = name;
        this.nspawn = nspawn;
        this.console = console;
        this.cgroups = cgroups;
    }

    /**
     * Boots a container of {@code rootfs} with the host paths of {@code bindRo} (host → path in
     * the container) bound read-only, and returns once systemd reports the system running.
     */
    static SystemdContainer boot(Path rootfs, Map<Path, String> bindRo) throws IOException, InterruptedException {
        if (!Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"))) {
            fail("a systemd container needs root (systemd-nspawn, cgroups, nsenter): run the ITs as root, as CI does");
        }
        endStale();
        String name = PREFIX + ProcessHandle.current().pid() + "-" + COUNT.incrementAndGet();
        List<Path> cgroups = new ArrayList<>();
        StringBuilder join = new StringBuilder();
        for (Path root : cgroupRoots()) {
            Path own = Files.createDirectories(root.resolve(name));
            cgroups.add(own);
            join.append("echo $$ > ").append(own.resolve("cgroup.procs")).append(" && ");
        }
        List<String> cmd = new ArrayList<>(List.of("sh", "-c", join + "exec \"$@\"", "sh", Host.tool("systemd-nspawn"),
                "--directory=" + rootfs, "--machine=" + name, "--boot",
                // both needed where the host has no systemd: no machined to register with, no unit to create
                "--register=no", "--keep-unit", "--console=pipe", "--link-journal=no",
                "--volatile=overlay", "--private-network"));
        bindRo.forEach((host, inside) -> cmd.add("--bind-ro=" + host.toAbsolutePath() + ":" + inside));
        Path logs = logDir();
        Path console = logs.resolve(name + ".log");
        Process nspawn;
        try {
            nspawn = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(console.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
        } catch (IOException e) {
            for (Path cg : cgroups) {
                removeCgroup(cg);
            }
            throw e;
        }
        SystemdContainer c = new SystemdContainer(name, nspawn, console, cgroups);
        Runtime.getRuntime().addShutdownHook(c.hook);
        try {
            c.leader = c.awaitLeader();
            c.awaitRunning();
            return c;
        } catch (Throwable t) {
            c.close();
            throw t;
        }
    }

    /** Runs {@code argv} inside the container (as root, a clean environment) and returns its exit code and output. */
    Host.Result exec(Duration timeout, String... argv) throws IOException, InterruptedException {
        return Host.run(inside(argv), null, timeout);
    }

    /** {@link #exec} that fails the test unless the command exits 0; returns its output. */
    String check(Duration timeout, String... argv) throws IOException, InterruptedException {
        Host.Result r = exec(timeout, argv);
        if (r.code() != 0) {
            fail(String.join(" ", argv) + " exited " + r.code() + " in the container:\n" + r.tail(30));
        }
        return r.output();
    }

    /** Starts {@code argv} inside the container with stdin and stdout as pipes; {@link #close} kills it if it still runs. */
    Process start(String... argv) throws IOException {
        Process p = new ProcessBuilder(inside(argv)).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        synchronized (started) {
            started.add(p);
        }
        return p;
    }

    private List<String> inside(String... argv) {
        List<String> cmd = new ArrayList<>(List.of(Host.tool("nsenter"), "--target=" + leader, "--all", "env", "-i", "PATH=" + PATH,
                "LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"));
        cmd.addAll(Arrays.asList(argv));
        return cmd;
    }

    /** The container's PID 1: the child of nspawn that runs systemd. */
    private long awaitLeader() throws IOException, InterruptedException {
        long end = System.nanoTime() + BOOT.toNanos();
        while (System.nanoTime() - end < 0) {
            if (!nspawn.isAlive()) {
                fail("systemd-nspawn exited " + nspawn.exitValue() + " before the container booted:\n" + consoleTail());
            }
            Optional<ProcessHandle> init = nspawn.toHandle().descendants().filter(h -> "systemd".equals(comm(h.pid()))).findFirst();
            if (init.isPresent()) {
                return init.get().pid();
            }
            nspawn.waitFor(50, TimeUnit.MILLISECONDS); // wakes at once if nspawn exits
        }
        return fail("no systemd in container " + name + " after " + BOOT + ":\n" + consoleTail());
    }

    /** {@code systemctl is-system-running --wait}, retried while systemd has no bus to answer on yet; degraded is good enough. */
    private void awaitRunning() throws IOException, InterruptedException {
        long end = System.nanoTime() + BOOT.toNanos();
        Host.Result r;
        do {
            r = exec(BOOT, "systemctl", "is-system-running", "--wait");
            String state = r.output().strip();
            if (state.equals("running")) {
                return;
            }
            if (state.equals("degraded")) { // a unit of the base system failed: not ours, and ours still run
                System.out.println("[systemd] container " + name + " booted degraded: "
                        + exec(Duration.ofSeconds(30), "systemctl", "--failed", "--no-legend").output().strip());
                return;
            }
            if (!nspawn.isAlive()) {
                break;
            }
            nspawn.waitFor(100, TimeUnit.MILLISECONDS);
        } while (System.nanoTime() - end < 0);
        fail("container " + name + " did not reach running (" + r.output().strip() + "):\n" + consoleTail());
    }

    String consoleTail() {
        try {
            List<String> lines = Files.readAllLines(console, StandardCharsets.UTF_8);
            return "--- " + console + " (last lines)\n" + String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no console log: " + e + ")";
        }
    }

    /** Ends the container, whatever state it is in, and removes its cgroups. */
    @Override
    public void close() {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook itself is ending it
        }
        end();
    }

    private synchronized void end() {
        synchronized (started) {
            for (Process p : started) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
        }
        try {
            if (nspawn.isAlive()) {
                nspawn.destroy(); // TERM: nspawn halts the container's systemd cleanly
                if (!nspawn.waitFor(HALT.toMillis(), TimeUnit.MILLISECONDS)) {
                    nspawn.destroyForcibly();
                    nspawn.waitFor(HALT.toMillis(), TimeUnit.MILLISECONDS);
                }
            }
            for (Path cg : cgroups) {
                removeCgroup(cg);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Containers of test JVMs that are gone (killed before they could end them). */
    private static void endStale() throws IOException, InterruptedException {
        for (Path root : cgroupRoots()) {
            try (Stream<Path> list = Files.list(root)) {
                for (Path cg : list.filter(p -> p.getFileName().toString().startsWith(PREFIX)).toList()) {
                    String[] parts = cg.getFileName().toString().substring(PREFIX.length()).split("-");
                    if (parts.length == 2 && parts[0].matches("\\d+") && ProcessHandle.of(Long.parseLong(parts[0])).isEmpty()) {
                        removeCgroup(cg);
                    }
                }
            }
        }
    }

    /** KILLs every process left in the cgroup tree, waits until it is empty, then removes it bottom-up. */
    private static void removeCgroup(Path cg) throws IOException, InterruptedException {
        if (!Files.isDirectory(cg)) {
            return;
        }
        long end = System.nanoTime() + HALT.toNanos();
        List<Long> left;
        while (!(left = procs(cg)).isEmpty()) {
            if (System.nanoTime() - end > 0) {
                fail("processes " + left + " are still in cgroup " + cg + " after KILL");
            }
            for (long pid : left) {
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            }
            Thread.sleep(20); // a KILLed process leaves its cgroup when it is reaped: nothing to wait on from here
        }
        List<Path> dirs;
        try (Stream<Path> walk = Files.walk(cg)) {
            dirs = walk.filter(Files::isDirectory).sorted(Comparator.comparingInt(Path::getNameCount).reversed()).toList();
        }
        for (Path d : dirs) {
            Files.deleteIfExists(d); // rmdir: a cgroup's files go with it
        }
    }

    private static List<Long> procs(Path cg) throws IOException {
        List<Long> pids = new ArrayList<>();
        try (Stream<Path> walk = Files.walk(cg)) {
            for (Path f : walk.filter(p -> p.getFileName().toString().equals("cgroup.procs")).toList()) {
                try {
                    for (String line : Files.readAllLines(f)) {
                        if (!line.isBlank()) {
                            pids.add(Long.parseLong(line.strip()));
                        }
                    }
                } catch (NoSuchFileException gone) {
                    // removed while walking
                }
            }
        }
        return pids;
    }

    /** The hierarchies nspawn lives in: cgroup v2 alone, or v1's named systemd one and the unified one of a hybrid host. */
    private static List<Path> cgroupRoots() {
        Path fs = Path.of("/sys/fs/cgroup");
        if (Files.exists(fs.resolve("cgroup.controllers"))) {
            return List.of(fs);
        }
        List<Path> roots = Stream.of(fs.resolve("systemd"), fs.resolve("unified")).filter(p -> Files.exists(p.resolve("cgroup.procs")))
                .toList();
        if (roots.isEmpty()) {
            fail("no cgroup hierarchy for systemd at " + fs + " (neither cgroup v2 nor v1's name=systemd)");
        }
        return roots;
    }

    private static Path logDir() throws IOException {
        String classes = System.getProperty("it.classes");
        Path base = classes != null ? Path.of(classes).getParent() : Path.of(System.getProperty("java.io.tmpdir"));
        return Files.createDirectories(base.resolve("systemd-it"));
    }

    private static String comm(long pid) {
        try {
            return Files.readString(Path.of("/proc", Long.toString(pid), "comm")).strip();
        } catch (IOException gone) {
            return "";
        }
    }
}
