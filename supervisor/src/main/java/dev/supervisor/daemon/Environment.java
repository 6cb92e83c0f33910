package dev.supervisor.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * A process environment as the kernel holds it: {@code NAME=value} entries of bytes, in order.
 * The JVM's {@link System#getenv()} is a decoded view that loses what the locale cannot decode (a
 * name that is not UTF-8 is dropped, a value becomes '?' or U+FFFD); a worker gets ours byte for
 * byte instead. Immutable.
 */
public final class Environment {
    private final List<byte[]> entries;

    private Environment(List<byte[]> entries) {
        this.entries = entries;
    }

    /** This process's environment from /proc/self/environ; the JVM's decoded one when /proc cannot be read. */
    public static Environment current() {
        try {
            return ofEntries(splitNul(Files.readAllBytes(Path.of("/proc/self/environ"))));
        } catch (IOException e) {
            return of(System.getenv());
        }
    }

    /** These NAME=value entries, as /proc/PID/environ holds them. */
    static Environment ofEntries(List<byte[]> entries) {
        return new Environment(entries.stream().map(byte[]::clone).toList());
    }

    /** {@code vars} encoded as UTF-8. */
    public static Environment of(Map<String, String> vars) {
        List<byte[]> out = new ArrayList<>();
        vars.forEach((k, v) -> out.add(entry(k, v)));
        return new Environment(out);
    }

    /** The NUL-terminated strings of {@code bytes} (/proc/PID/cmdline, /proc/PID/environ), each without its NUL. */
    public static List<byte[]> splitNul(byte[] bytes) {
        List<byte[]> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == 0) {
                out.add(Arrays.copyOfRange(bytes, start, i));
                start = i + 1;
            }
        }
        if (start < bytes.length) {
            out.add(Arrays.copyOfRange(bytes, start, bytes.length));
        }
        return out;
    }

    /** Without every entry named one of {@code names}. */
    public Environment without(Collection<String> names) {
        List<byte[]> out = new ArrayList<>();
        for (byte[] e : entries) {
            if (!names.contains(name(e))) {
                out.add(e);
            }
        }
        return new Environment(out);
    }

    /** With {@code vars} (UTF-8) in place of any entries of the same names. */
    public Environment with(Map<String, String> vars) {
        List<byte[]> out = new ArrayList<>(without(vars.keySet()).entries);
        vars.forEach((k, v) -> out.add(entry(k, v)));
        return new Environment(out);
    }

    /** The value of {@code name} decoded as UTF-8, or null. */
    public String get(String name) {
        byte[] v = value(name);
        return v == null ? null : new String(v, StandardCharsets.UTF_8);
    }

    public boolean containsKey(String name) {
        return value(name) != null;
    }

    /** The raw value of the first entry called {@code name}, or null. */
    public byte[] value(String name) {
        byte[] key = name.getBytes(StandardCharsets.UTF_8);
        for (byte[] e : entries) {
            if (e.length > key.length && e[key.length] == '=' && Arrays.equals(e, 0, key.length, key, 0, key.length)) {
                return Arrays.copyOfRange(e, key.length + 1, e.length);
            }
        }
        return null;
    }

    /**
     * With {@code name} set to its current value (bytes kept as they are) followed by a space and
     * {@code suffix}, or to {@code suffix} when it is unset or blank.
     */
    public Environment appending(String name, String suffix) {
        byte[] own = value(name);
        byte[] add = suffix.getBytes(StandardCharsets.UTF_8);
        byte[] key = (name + "=").getBytes(StandardCharsets.UTF_8);
        boolean blank = own == null || new String(own, StandardCharsets.UTF_8).isBlank();
        byte[] e;
        if (blank) {
            e = concat(key, add);
        } else {
            e = concat(concat(key, own), concat(new byte[] {' '}, add));
        }
        List<byte[]> out = new ArrayList<>(without(List.of(name)).entries);
        out.add(e);
        return new Environment(out);
    }

    /** The entries, as execve(2) takes them (without the terminating NULL). */
    public List<byte[]> entries() {
        return entries.stream().map(byte[]::clone).toList();
    }

    private static byte[] entry(String name, String value) {
        return (name + "=" + value).getBytes(StandardCharsets.UTF_8);
    }

    /** The part before the first '=', decoded; an entry without '=' is all name. */
    private static String name(byte[] entry) {
        int eq = 0;
        while (eq < entry.length && entry[eq] != '=') {
            eq++;
        }
        return new String(entry, 0, eq, StandardCharsets.UTF_8);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
