package dev.supervisor.daemon;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
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
 * thread (never the supervisor's: with 10,000 connections it takes tens of ms).
 */
public final class Connections {
    private static final String TCP_ESTABLISHED = "01", TCP_LISTEN = "0A";

    /** What to count, copied on the supervisor thread: the listeners' fds and each generation's worker pids. */
    public record Census(List<Integer> listenerFds, Map<Integer, List<Integer>> pidsByGeneration) {
        public static final Census NONE = new Census(List.of(), Map.of());
    }

    private Connections() {}

    /** Connections held by each generation of {@code c}, by generation number. */
    public static Map<Integer, Integer> count(Census c) {
        Map<Integer, Integer> out = new LinkedHashMap<>();
        c.pidsByGeneration().keySet().forEach(g -> out.put(g, 0));
        if (c.listenerFds().isEmpty() || c.pidsByGeneration().isEmpty()) {
            return out;
        }
        Set<Long> listenerInodes = new HashSet<>();
        for (int fd : c.listenerFds()) {
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
     * address, whose local port is its port).
     */
    private static void established(Path table, Set<Long> listenerInodes, Set<Long> out) {
        List<String> lines;
        try {
            lines = Files.readAllLines(table);
        } catch (IOException e) {
            return; // no IPv6 on this host
        }
        Set<String> exact = new HashSet<>();
        Set<String> anyAddressPorts = new HashSet<>();
        for (int i = 1; i < lines.size(); i++) {
            String[] f = fields(lines.get(i));
            if (f != null && f[3].equals(TCP_LISTEN) && listenerInodes.contains(parseInode(f[9]))) {
                String local = f[1];
                int colon = local.indexOf(':');
                if (local.substring(0, colon).chars().allMatch(ch -> ch == '0')) {
                    anyAddressPorts.add(local.substring(colon));
                } else {
                    exact.add(local);
                }
            }
        }
        if (exact.isEmpty() && anyAddressPorts.isEmpty()) {
            return;
        }
        for (int i = 1; i < lines.size(); i++) {
            String[] f = fields(lines.get(i));
            if (f != null && f[3].equals(TCP_ESTABLISHED)) {
                String local = f[1];
                if (exact.contains(local) || anyAddressPorts.contains(local.substring(local.indexOf(':')))) {
                    out.add(parseInode(f[9]));
                }
            }
        }
    }

    /** The whitespace-separated fields of a /proc/net/tcp row (sl, local, remote, st, ..., inode at 9), or null. */
    private static String[] fields(String line) {
        String[] f = line.trim().split("\\s+");
        return f.length > 9 ? f : null;
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
