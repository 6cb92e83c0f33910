package dev.supervisor.protocol;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The LISTEN_FDS hand-over of systemd socket activation: {@link #environment} builds it for a
 * worker, {@link #parse} reads it back branch for branch like {@code sd_listen_fds_with_names()}.
 */
public final class ListenFds {
    private final List<String> names;

    private ListenFds(List<String> names) {
        this.names = Collections.unmodifiableList(names);
    }

    /** Names of the inherited fds, in fd order: names().get(i) is fd 3 + i. */
    public List<String> names() {
        return names;
    }

    public int count() {
        return names.size();
    }

    /** fd number of the listener called {@code name}, or -1. */
    public int fdOf(String name) {
        int i = names.indexOf(name);
        return i < 0 ? -1 : Wire.LISTEN_FDS_START + i;
    }

    /** True when {@code name} can appear in LISTEN_FDNAMES. */
    public static boolean validName(String name) {
        return name != null && name.matches(Wire.NAME_PATTERN);
    }

    /**
     * The variables a worker gets for {@code names}, without LISTEN_PID (only the process that
     * execs the command knows its pid).
     */
    public static Map<String, String> environment(List<String> names) {
        for (String n : names) {
            if (!validName(n)) {
                throw new IllegalArgumentException("bad listener name '" + n + "': expected " + Wire.NAME_PATTERN);
            }
        }
        Map<String, String> env = new LinkedHashMap<>();
        if (names.isEmpty()) {
            return env; // sd_listen_fds() takes LISTEN_FDS=0 as an error: say nothing instead
        }
        env.put(Wire.LISTEN_FDS, Integer.toString(names.size()));
        env.put(Wire.LISTEN_FDNAMES, String.join(":", names));
        return env;
    }

    /**
     * Reads the hand-over meant for process {@code ownPid}. Returns null when there is none for
     * this process (no LISTEN_PID, or another process's), like sd_listen_fds() returning 0.
     *
     * @throws IllegalArgumentException when the variables are there but malformed
     */
    public static ListenFds parse(Map<String, String> env, long ownPid) {
        String pid = env.get(Wire.LISTEN_PID);
        if (pid == null) {
            return null;
        }
        long listenPid = parseNumber(Wire.LISTEN_PID, pid);
        if (listenPid != ownPid) {
            return null;
        }
        String fds = env.get(Wire.LISTEN_FDS);
        if (fds == null) {
            return null;
        }
        long n = parseNumber(Wire.LISTEN_FDS, fds);
        if (n > Wire.MAX_LISTEN_FDS) {
            // sd_listen_fds() stops at INT_MAX - 3 and sd_listen_fds_with_names() then fails to
            // allocate the names; no process holds that many fds, so say so before allocating.
            throw new IllegalArgumentException("LISTEN_FDS=" + fds + " is more fds than a process can hold (at most "
                    + Wire.MAX_LISTEN_FDS + ", the default fs.nr_open)");
        }
        int count = (int) n;
        List<String> names;
        String joined = env.get(Wire.LISTEN_FDNAMES);
        if (joined == null || joined.isEmpty()) {
            // sd_listen_fds_with_names() names every fd "unknown" when no names are given; an
            // empty LISTEN_FDNAMES splits into no names there, so it counts as none too.
            names = Collections.nCopies(count, "unknown");
        } else {
            names = new ArrayList<>(Arrays.asList(joined.split(":", -1)));
            if (names.size() != count) {
                throw new IllegalArgumentException("LISTEN_FDNAMES has " + names.size() + " names, LISTEN_FDS says " + count);
            }
        }
        return new ListenFds(names);
    }

    private static long parseNumber(String var, String value) {
        try {
            long v = Long.parseLong(value.trim());
            if (v < 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(var + "=" + value + " is not a non-negative number");
        }
    }
}
