package dev.supervisor.daemon;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The few /proc reads the supervisor makes about processes, each bounded in bytes so that a
 * hostile or huge process cannot make the supervisor thread read for long. A process that is gone
 * reads as nothing (an empty list, null), never as an error: processes end at any time.
 */
final class ProcFs {
    private ProcFs() {}

    /** What stat, children and a task listing may hold is far below this; environ is cut here. */
    static final int MAX_READ = 64 * 1024;
    /** Threads of one process whose children we read; a process with more is read up to here. */
    static final int MAX_TASKS = 1024;

    /** Fields of /proc/PID/stat: parent, process group, session, state ('Z' = zombie) and number of threads. */
    record Stat(int ppid, int pgrp, int session, char state, int threads) {}

    /** The stat of {@code pid}, or null when it is gone. */
    static Stat stat(int pid) {
        String s = read(Path.of("/proc", Integer.toString(pid), "stat"), 4096);
        if (s == null) {
            return null;
        }
        int close = s.lastIndexOf(')');
        if (close < 0 || close + 2 >= s.length()) {
            return null;
        }
        String[] f = s.substring(close + 2).split(" ", 19);
        try {
            return new Stat(Integer.parseInt(f[1]), Integer.parseInt(f[2]), Integer.parseInt(f[3]), f[0].charAt(0), Integer.parseInt(f[17]));
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** The children of thread {@code tid} of process {@code pid}. */
    static List<Integer> threadChildren(int pid, int tid) {
        List<Integer> out = new ArrayList<>();
        addChildren(read(Path.of("/proc", Integer.toString(pid), "task", Integer.toString(tid), "children"), MAX_READ), out);
        return out;
    }

    /** The id of the calling thread, from /proc/thread-self ("PID/task/TID"); -1 if it cannot be read. */
    static int currentThread() {
        try {
            Path link = Files.readSymbolicLink(Path.of("/proc/thread-self"));
            return Integer.parseInt(link.getFileName().toString());
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /**
     * The children of process {@code pid} of {@code stat}: of its one thread when it has one (a
     * file read instead of a directory listing and a read per thread).
     */
    static List<Integer> children(int pid, Stat stat) {
        return stat.threads() == 1 ? threadChildren(pid, pid) : children(pid);
    }

    /** The children of every thread of {@code pid}. */
    static List<Integer> children(int pid) {
        List<Integer> out = new ArrayList<>();
        Path tasks = Path.of("/proc", Integer.toString(pid), "task");
        int seen = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(tasks)) {
            for (Path t : ds) {
                if (++seen > MAX_TASKS) {
                    break;
                }
                addChildren(read(t.resolve("children"), MAX_READ), out);
            }
        } catch (IOException | RuntimeException e) {
            // gone meanwhile: no children
        }
        return out;
    }

    /** The value of {@code name} in the environment {@code pid} was started with, or null. */
    static String environ(int pid, String name) {
        String env = read(Path.of("/proc", Integer.toString(pid), "environ"), MAX_READ);
        if (env == null) {
            return null;
        }
        String prefix = name + "=";
        for (String kv : env.split("\0")) {
            if (kv.startsWith(prefix)) {
                return kv.substring(prefix.length());
            }
        }
        return null;
    }

    /** {@code pid}, its parent, its parent's parent ... at most {@code depth} deep, stopping at init. */
    static long[] ancestry(long pid, int depth) {
        List<Long> chain = new ArrayList<>();
        long p = pid;
        while (p > 1 && chain.size() < depth) {
            chain.add(p);
            Stat s = stat((int) p);
            p = s == null ? -1 : s.ppid();
        }
        return chain.stream().mapToLong(Long::longValue).toArray();
    }

    private static void addChildren(String text, List<Integer> out) {
        if (text != null) {
            for (String p : text.trim().split(" ")) {
                if (!p.isEmpty()) {
                    out.add(Integer.parseInt(p));
                }
            }
        }
    }

    private static String read(Path p, int max) {
        try (InputStream in = Files.newInputStream(p)) {
            return new String(in.readNBytes(max), StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
