package dev.supervisor.daemon;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Counts the established TCP connections that each generation's processes hold on the
 * supervisor's listeners: sockets in /proc/PID/fd of a worker or its descendants whose row in
 * /proc/net/tcp{,6} is ESTABLISHED with a listener's local address. Connections still in the
 * accept queue belong to no process and are not counted. Reads only /proc, on the calling
 * thread (never the supervisor's: with 10,000 connections, or 100,000 TIME_WAIT rows, it takes
 * tens to hundreds of ms).
 */
public final class Connections {
    private static final String TCP_ESTABLISHED = "01", TCP_LISTEN = "0A";

    /** What to count, copied on the supervisor thread: the listeners' fds and each generation's worker pids. */
    public record Census(List<Integer> listenerFds, Map<Integer, List<Integer>> pidsByGeneration) {
        public static final Census NONE = new Census(List.of(), Map.of());
    }

    private Connections() {}

    /**
     * How long the table of established connections answers again for the same listeners: a
     * status sampled every 10 ms reads /proc/net/tcp once a second, also while reloads change the
     * generations (the fds of their processes, read every time, are cheap; the table, with a row
     * per TIME_WAIT socket under a load of fresh connections, is not).
     */
    static final long MAX_AGE_NANOS = 1_000_000_000L;

    /** One read of the table: for which listeners, what it found, when. */
    private record Table(List<Integer> listeners, Set<Long> established, long readNanos) {}

    /** The daemon's one last table (status and /metrics share it). */
    private static volatile Table last;
    /** Held while the table is read: one read at a time; {@link #countFromLast} never waits for it. */
    private static final Object READING = new Object();

    /** Connections held by each generation of {@code c}, by generation number. */
    public static Map<Integer, Integer> count(Census c) {
        if (c.listenerFds().isEmpty() || c.pidsByGeneration().isEmpty()) {
            return countHeld(c, Set.of());
        }
        return countHeld(c, establishedOn(c.listenerFds()));
    }

    /** {@link #count} with the last table read, however old, without waiting for a read; null when none was read yet. */
    public static Map<Integer, Integer> countFromLast(Census c) {
        Table t = last;
        if (c.listenerFds().isEmpty() || c.pidsByGeneration().isEmpty()) {
            return countHeld(c, Set.of());
        }
        return t == null ? null : countHeld(c, t.established());
    }

    /** The established connections on {@code listenerFds}: read now, or the table read less than {@link #MAX_AGE_NANOS} ago. */
    private static Set<Long> establishedOn(List<Integer> listenerFds) {
        Table t = last;
        if (fresh(t, listenerFds)) {
            return t.established();
        }
        synchronized (READING) {
            t = last;
            if (fresh(t, listenerFds)) {
                return t.established(); // read meanwhile by the caller we waited for
            }
            Set<Long> established = Collections.unmodifiableSet(establishedNow(listenerFds));
            last = new Table(List.copyOf(listenerFds), established, System.nanoTime());
            return established;
        }
    }

    private static boolean fresh(Table t, List<Integer> listenerFds) {
        return t != null && listenerFds.equals(t.listeners()) && System.nanoTime() - t.readNanos() < MAX_AGE_NANOS;
    }

    /** The inodes of the established connections on the listeners {@code listenerFds}, from /proc/net/tcp{,6}. */
    private static Set<Long> establishedNow(List<Integer> listenerFds) {
        Set<Long> listenerInodes = new HashSet<>();
        for (int fd : listenerFds) {
            // The fd may have been closed since the census was taken; then it is not a listener
            // in /proc/net/tcp, or is one anyway: a scrape's worth of imprecision, never an error.
            long inode = socketInode(Path.of("/proc/self/fd/" + fd));
            if (inode > 0) {
                listenerInodes.add(inode);
            }
        }
        Set<Long> established = new HashSet<>();
        established(Path.of("/proc/net/tcp"), listenerInodes, established);
        established(Path.of("/proc/net/tcp6"), listenerInodes, established);
        return established;
    }

    /** Of {@code established}, how many each generation's processes hold, by generation number. */
    private static Map<Integer, Integer> countHeld(Census c, Set<Long> established) {
        Map<Integer, Integer> out = new LinkedHashMap<>();
        c.pidsByGeneration().keySet().forEach(g -> out.put(g, 0));
        if (established.isEmpty()) {
            return out;
        }
        for (Map.Entry<Integer, List<Integer>> e : c.pidsByGeneration().entrySet()) {
            Set<Long> held = new HashSet<>();
            for (int pid : withDescendants(e.getValue())) {
                try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/" + pid + "/fd"))) {
                    for (Path fd : fds) {
                        long inode = socketInode(fd);
                        if (inode > 0 && established.contains(inode)) {
                            held.add(inode); // a socket shared by a parent and its child counts once
                        }
                    }
                } catch (IOException | SecurityException ignored) {
                    // the process has exited meanwhile
                }
            }
            out.put(e.getKey(), held.size());
        }
        return out;
    }

    /**
     * Adds to {@code out} the inodes of the ESTABLISHED sockets in {@code table} whose local
     * address is that of a listener in {@code listenerInodes} (or, for a listener bound to every
     * address, whose local port is its port). One pass; a row is split only as far as needed, as
     * a table may have tens of thousands of rows.
     */
    private static void established(Path table, Set<Long> listenerInodes, Set<Long> out) {
        Set<String> exact = new HashSet<>();
        Set<String> anyAddressPorts = new HashSet<>();
        List<String> locals = new ArrayList<>();
        List<Long> inodes = new ArrayList<>();
        // Streamed: under a load of fresh connections the table holds a row per TIME_WAIT socket,
        // over 100,000 of them, and only the few LISTEN and ESTABLISHED rows are kept.
        try (BufferedReader in = Files.newBufferedReader(table, StandardCharsets.US_ASCII)) {
            in.readLine(); // the header
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                // "  sl: LOCAL REMOTE ST TX:RX TR:WHEN RETRNSMT UID TIMEOUT INODE ..."
                row(line, listenerInodes, exact, anyAddressPorts, locals, inodes);
            }
        } catch (IOException e) {
            return; // no IPv6 on this host
        }
        for (int i = 0; i < locals.size(); i++) {
            String local = locals.get(i);
            if (exact.contains(local) || anyAddressPorts.contains(local.substring(local.indexOf(':')))) {
                out.add(inodes.get(i));
            }
        }
    }

    /** One table row: a listener's LISTEN row gives the local address to match; an ESTABLISHED row is a candidate. */
    private static void row(String line, Set<Long> listenerInodes, Set<String> exact, Set<String> anyAddressPorts, List<String> locals,
            List<Long> inodes) {
        int localStart = line.indexOf(':') + 2;
        int localEnd = line.indexOf(' ', localStart);
        int stateStart = line.indexOf(' ', localEnd + 1) + 1;
        if (localStart < 2 || localEnd < 0 || stateStart < 1 || stateStart + 2 > line.length()) {
            return;
        }
        String state = line.substring(stateStart, stateStart + 2);
        boolean listening = state.equals(TCP_LISTEN);
        if (!listening && !state.equals(TCP_ESTABLISHED)) {
            return;
        }
        String local = line.substring(localStart, localEnd);
        long inode = inode(line, stateStart);
        if (listening) {
            if (listenerInodes.contains(inode)) {
                int colon = local.indexOf(':');
                if (local.substring(0, colon).chars().allMatch(ch -> ch == '0')) {
                    anyAddressPorts.add(local.substring(colon));
                } else {
                    exact.add(local);
                }
            }
        } else {
            locals.add(local);
            inodes.add(inode);
        }
    }

    /** The inode field of a /proc/net/tcp row: the 6th field after the state. */
    private static long inode(String line, int stateStart) {
        int i = stateStart;
        for (int field = 0; field < 6; field++) {
            i = line.indexOf(' ', i);
            if (i < 0) {
                return -1;
            }
            while (i < line.length() && line.charAt(i) == ' ') {
                i++;
            }
        }
        int end = line.indexOf(' ', i);
        return parseInode(end < 0 ? line.substring(i) : line.substring(i, end));
    }

    private static long parseInode(String s) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The inode of the socket an fd link points to ("socket:[12345]"), or -1 for anything else. */
    private static long socketInode(Path fdLink) {
        String target;
        try {
            target = Files.readSymbolicLink(fdLink).toString();
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return -1;
        }
        if (!target.startsWith("socket:[") || !target.endsWith("]")) {
            return -1;
        }
        return parseInode(target.substring(8, target.length() - 1));
    }

    /** {@code pids} and every process below them (gunicorn's workers under its master), from /proc/PID/task/TID/children. */
    private static Set<Integer> withDescendants(List<Integer> pids) {
        Set<Integer> all = new HashSet<>(pids);
        ArrayDeque<Integer> todo = new ArrayDeque<>(pids);
        while (!todo.isEmpty() && all.size() < 65_536) {
            int pid = todo.poll();
            try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/" + pid + "/task"))) {
                for (Path task : tasks) {
                    // readAllLines: a /proc file has no size, and a read by its size can come out short
                    for (String child : String.join(" ", Files.readAllLines(task.resolve("children"))).trim().split("\\s+")) {
                        if (!child.isEmpty() && all.add(Integer.parseInt(child))) {
                            todo.add(Integer.parseInt(child));
                        }
                    }
                }
            } catch (IOException | NumberFormatException | SecurityException ignored) {
                // exited meanwhile, or a kernel without the children file: the worker alone counts
            }
        }
        return all;
    }
}
