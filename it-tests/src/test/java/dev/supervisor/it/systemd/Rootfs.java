package dev.supervisor.it.systemd;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;

/**
 * The containers' root file system: a Debian bookworm minbase with systemd and a JRE, made by
 * debootstrap once and cached under {@code ~/.cache/supervisor-it/rootfs-KEY}, KEY a hash of the
 * recipe (suite, variant, packages). It is built under another name and renamed into place, so
 * an interrupted build is never taken for a cached one; a lock file serializes builders. The
 * containers boot it with {@code --volatile=overlay}: it stays as built.
 */
final class Rootfs {
    private Rootfs() {}

    static final String SUITE = "bookworm";
    /**
     * procps for /bin/kill in ExecReload= lines, python3 for the load client, the JRE for the .deb,
     * and Debian's own "supervisor" (supervisord), which the .deb installs beside.
     */
    static final List<String> PACKAGES = List.of("systemd", "systemd-sysv", "dbus", "python3", "procps", "curl",
            "openjdk-17-jre-headless", "supervisor");
    private static final Duration BUILD_TIMEOUT = Duration.ofMinutes(15);

    /** The cached root file system, built first if there is none. */
    static synchronized Path get() throws IOException, InterruptedException {
        Path cache = cacheDir();
        Files.createDirectories(cache);
        String recipe = "debootstrap --variant=minbase --include=" + String.join(",", PACKAGES) + " " + SUITE + "\nno apt archives\n";
        Path root = cache.resolve("rootfs-" + sha256(recipe).substring(0, 16));
        if (Files.isDirectory(root)) {
            return root;
        }
        try (FileChannel lockFile = FileChannel.open(cache.resolve(root.getFileName() + ".lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE)) {
            lockFile.lock(); // released when the channel closes
            if (Files.isDirectory(root)) {
                return root; // another process built it while this one waited
            }
            Path partial = cache.resolve(root.getFileName() + ".partial");
            removeTree(partial); // left by an interrupted build: never used
            Path log = cache.resolve(root.getFileName() + ".log");
            Files.deleteIfExists(log);
            build(partial, log);
            Files.move(partial, root, StandardCopyOption.ATOMIC_MOVE);
            return root;
        }
    }

    /** {@code $SUPERVISOR_IT_CACHE}, else {@code ${XDG_CACHE_HOME:-~/.cache}/supervisor-it}. */
    static Path cacheDir() {
        String own = System.getenv("SUPERVISOR_IT_CACHE");
        if (own != null && !own.isEmpty()) {
            return Path.of(own);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isEmpty() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("supervisor-it");
    }

    private static void build(Path target, Path log) throws IOException, InterruptedException {
        String mirror = Mirror.fromAptSources();
        List<String> cmd = List.of(Host.tool("debootstrap"), "--variant=minbase", "--include=" + String.join(",", PACKAGES), SUITE,
                target.toString(), mirror);
        Host.Result r = Host.run(cmd, log, BUILD_TIMEOUT);
        if (r.code() != 0) {
            fail("building the container root file system failed (" + r.code() + "): " + String.join(" ", cmd) + "\n" + r.tail(40));
        }
        // The downloaded packages are installed: 100+ MB nobody reads again.
        try (var debs = Files.newDirectoryStream(target.resolve("var/cache/apt/archives"), "*.deb")) {
            for (Path deb : debs) {
                Files.delete(deb);
            }
        }
    }

    /**
     * Removes a directory tree that an interrupted debootstrap may have left with file systems
     * mounted in it (proc, sys): those are unmounted first, and rm never crosses into one.
     */
    static void removeTree(Path dir) throws IOException, InterruptedException {
        if (!Files.exists(dir)) {
            return;
        }
        String prefix = dir.toRealPath() + "/";
        List<String> mounted = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
            String point = line.split(" ")[4].replace("\\040", " ");
            if (point.startsWith(prefix)) {
                mounted.add(point);
            }
        }
        mounted.sort(Comparator.comparingInt(String::length).reversed());
        for (String point : mounted) {
            Host.run(List.of("umount", "-l", point), null, Duration.ofSeconds(30));
        }
        Host.Result rm = Host.run(List.of("rm", "-rf", "--one-file-system", dir.toString()), null, Duration.ofMinutes(2));
        if (rm.code() != 0) {
            fail("rm -rf " + dir + " failed: " + rm.tail(10));
        }
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
