package dev.supervisor.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What /proc says about the machine and about a process (RSS, CPU time). */
final class Machine {
    private Machine() {}

    static final long CLK_TCK = 100;

    static String read(String path) {
        try {
            return Files.readString(Path.of(path));
        } catch (IOException e) {
            return "";
        }
    }

    static String cpuModel() {
        for (String l : read("/proc/cpuinfo").split("\n")) {
            if (l.startsWith("model name")) {
                return l.substring(l.indexOf(':') + 1).strip();
            }
        }
        return "?";
    }

    static long memTotalKb() {
        return field(read("/proc/meminfo"), "MemTotal:");
    }

    /** VmRSS of {@code pid} in KiB, or -1. */
    static long rssKb(long pid) {
        return field(read("/proc/" + pid + "/status"), "VmRSS:");
    }

    /** Number of open fds of {@code pid}, or -1. */
    static int fds(long pid) {
        String[] l = Path.of("/proc/" + pid + "/fd").toFile().list();
        return l == null ? -1 : l.length;
    }

    /** utime + stime of {@code pid} in clock ticks (1/100 s), or -1. */
    static long cpuTicks(long pid) {
        String s = read("/proc/" + pid + "/stat");
        int close = s.lastIndexOf(')');
        if (close < 0) {
            return -1;
        }
        String[] f = s.substring(close + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    /** Threads of {@code pid}, or -1. */
    static long threads(long pid) {
        return field(read("/proc/" + pid + "/status"), "Threads:");
    }

    private static long field(String text, String name) {
        for (String l : text.split("\n")) {
            if (l.startsWith(name)) {
                return Long.parseLong(l.substring(name.length()).strip().split("\\s+")[0]);
            }
        }
        return -1;
    }
}
