package dev.supervisor.daemon;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.Set;
import java.util.function.IntPredicate;

import dev.supervisor.protocol.Libc;

/**
 * --starting-priority: the CPU priority a worker starts at, until its generation is ready, so that
 * a starting generation takes only the CPU the serving one leaves idle. {@code idle} (SCHED_IDLE),
 * {@code batch} (SCHED_BATCH) or {@code nice} (nice 19) at spawn; {@code normal} leaves workers as
 * the supervisor is. Raising to normal walks every thread of every process of the worker's tree
 * (/proc/PID/task, then each thread's children), since Linux keeps policy and nice per thread and
 * a thread inherits them from its creator: once every thread is normal, so are the ones made later.
 */
public enum Priority {
    IDLE(Libc.SCHED_IDLE), BATCH(Libc.SCHED_BATCH), NICE(Libc.SCHED_OTHER), NORMAL(Libc.SCHED_OTHER);

    /** The nice value of {@link #NICE}. */
    static final int LOW_NICE = 19;

    /** The scheduling policy a starting worker runs under. */
    final int policy;

    Priority(int policy) {
        this.policy = policy;
    }

    public static Priority parse(String text) {
        for (Priority p : values()) {
            if (p.name().equalsIgnoreCase(text)) {
                return p;
            }
        }
        throw new IllegalArgumentException("'" + text + "': expected nice, idle, batch or normal");
    }

    @Override
    public String toString() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * What this starting priority is for a supervisor that may not raise a thread's priority
     * back (no CAP_SYS_NICE, RLIMIT_NICE below 20): leaving SCHED_IDLE or nice 19 needs that
     * privilege, leaving SCHED_BATCH does not, so {@code idle} and {@code nice} become {@code batch}.
     */
    Priority forPrivilege(boolean mayRaise) {
        return mayRaise || this == BATCH || this == NORMAL ? this : BATCH;
    }

    /** Whether this process may raise a thread's priority: CAP_SYS_NICE, or RLIMIT_NICE 20 or more. */
    static boolean mayRaise() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:") && (Long.parseLong(line.substring(7).trim(), 16) & (1L << CAP_SYS_NICE)) != 0) {
                    return true;
                }
            }
            for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
                if (line.startsWith("Max nice priority")) {
                    String soft = line.substring("Max nice priority".length()).trim().split("\\s+")[0];
                    return soft.equals("unlimited") || Integer.parseInt(soft) >= 20;
                }
            }
        } catch (IOException | RuntimeException e) {
            // unknown: assume not
        }
        return false;
    }

    private static final int CAP_SYS_NICE = 23;

    /**
     * Lowers a just-spawned worker (posix_spawn can set neither SCHED_IDLE, SCHED_BATCH nor a nice
     * value in the child): first the thread that runs the LISTEN_PID shim, so every thread it
     * creates from now on starts low, then any thread or process made before that call.
     */
    void lower(int pid) {
        if (this != NORMAL) {
            lowerThread(pid);
            walk(pid, this::lowerThread);
        }
    }

    /**
     * Raises every thread of {@code pid} and of its descendants from this starting priority to
     * normal; threads the worker set otherwise itself are not touched.
     */
    void raise(int pid) {
        if (this != NORMAL) {
            walk(pid, this::raiseThread);
        }
    }

    private boolean lowerThread(int tid) {
        return this == NICE ? Posix.setNice(tid, LOW_NICE) : Posix.setSchedPolicy(tid, policy);
    }

    private boolean raiseThread(int tid) {
        if (this == NICE) {
            return Posix.getNice(tid) == LOW_NICE && Posix.setNice(tid, 0);
        }
        return Posix.schedPolicy(tid) == policy && Posix.setSchedPolicy(tid, Libc.SCHED_OTHER);
    }

    /**
     * Applies {@code change} to every thread of {@code pid} and of its descendants. Passes repeat
     * until one finds no thread it had not seen, so a thread created during a pass by a thread
     * not changed yet is caught by the next.
     */
    private static void walk(int pid, IntPredicate change) {
        Set<Integer> seen = new HashSet<>();
        for (int pass = 0; pass < MAX_PASSES; pass++) {
            int before = seen.size();
            Deque<Integer> processes = new ArrayDeque<>();
            processes.add(pid);
            while (!processes.isEmpty()) {
                int p = processes.poll();
                for (int tid : numbers(Path.of("/proc", Integer.toString(p), "task"))) {
                    if (seen.add(tid)) {
                        change.test(tid);
                    }
                    for (int child : children(p, tid)) {
                        processes.add(child);
                    }
                }
            }
            if (seen.size() == before) {
                break;
            }
        }
    }

    private static final int MAX_PASSES = 5;

    /** Thread ids (or child pids) listed in a /proc directory; none when the process is gone. */
    private static Set<Integer> numbers(Path dir) {
        Set<Integer> out = new HashSet<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                out.add(Integer.parseInt(p.getFileName().toString()));
            }
        } catch (NoSuchFileException e) {
            // exited meanwhile
        } catch (IOException | NumberFormatException e) {
            // a process that is going away; its threads need no priority
        }
        return out;
    }

    private static int[] children(int pid, int tid) {
        String text;
        try {
            text = Files.readString(Path.of("/proc", Integer.toString(pid), "task", Integer.toString(tid), "children")).trim();
        } catch (IOException e) {
            return new int[0];
        }
        if (text.isEmpty()) {
            return new int[0];
        }
        String[] parts = text.split(" ");
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            out[i] = Integer.parseInt(parts[i]);
        }
        return out;
    }
}
