package dev.supervisor.daemon;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

import dev.supervisor.protocol.Wire;

/**
 * A listener address as {@code --listen} takes it:
 * {@code tcp://HOST:PORT}, {@code HOST:PORT}, {@code :PORT} (all addresses),
 * {@code [V6ADDR]:PORT}, {@code unix:/path}, {@code udp://HOST:PORT}.
 */
public final class Address {
    public enum Kind { TCP, UDP, UNIX }

    static final String FORMS = "tcp://HOST:PORT, HOST:PORT, :PORT, [V6ADDR]:PORT, unix:/path or udp://HOST:PORT";

    private final Kind kind;
    private final String host; // null = every address; never bracketed
    private final int port;
    private final String path;

    private Address(Kind kind, String host, int port, String path) {
        this.kind = kind;
        this.host = host;
        this.port = port;
        this.path = path;
    }

    public Kind kind() { return kind; }
    public String host() { return host; }
    public int port() { return port; }
    public String path() { return path; }

    public static Address parse(String text) {
        if (text == null || text.isEmpty()) {
            throw new IllegalArgumentException("empty address: expected " + FORMS);
        }
        if (text.startsWith("unix:")) {
            String path = text.substring(5);
            if (path.startsWith("//")) {
                path = path.substring(2);
            }
            if (path.isEmpty()) {
                throw new IllegalArgumentException("address '" + text + "' has no path: expected unix:/path/to.sock");
            }
            int bytes = path.getBytes(StandardCharsets.UTF_8).length;
            if (bytes >= Wire.SUN_PATH_MAX) {
                throw new IllegalArgumentException("unix socket path '" + path + "' is " + bytes + " bytes; the kernel allows at most "
                        + (Wire.SUN_PATH_MAX - 1));
            }
            if (path.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("unix socket path '" + path + "' contains a NUL byte");
            }
            return new Address(Kind.UNIX, null, 0, path);
        }
        Kind kind = Kind.TCP;
        String rest = text;
        if (text.startsWith("tcp://")) {
            rest = text.substring(6);
        } else if (text.startsWith("udp://")) {
            kind = Kind.UDP;
            rest = text.substring(6);
        } else if (text.contains("://")) {
            throw new IllegalArgumentException("unknown address form '" + text + "': expected " + FORMS);
        }
        String host;
        String port;
        if (rest.startsWith("[")) {
            int close = rest.indexOf(']');
            if (close < 0 || close + 1 >= rest.length() || rest.charAt(close + 1) != ':') {
                throw new IllegalArgumentException("address '" + text + "': expected [V6ADDR]:PORT");
            }
            host = rest.substring(1, close);
            if (!host.contains(":")) {
                throw new IllegalArgumentException("address '" + text + "': '" + host + "' in brackets is not an IPv6 address");
            }
            port = rest.substring(close + 2);
        } else {
            int colon = rest.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("unknown address form '" + text + "' (no port): expected " + FORMS);
            }
            host = rest.substring(0, colon);
            if (host.contains(":")) {
                throw new IllegalArgumentException("address '" + text + "': an IPv6 address needs brackets, as in [::1]:8080");
            }
            port = rest.substring(colon + 1);
        }
        if (host.isEmpty()) {
            host = null;
        } else if (host.chars().anyMatch(ch -> Character.isWhitespace(ch) || ch == '/' || ch == '[' || ch == ']')) {
            throw new IllegalArgumentException("address '" + text + "': '" + host + "' is not a host name or address");
        }
        return new Address(kind, host, parsePort(text, port), null);
    }

    private static int parsePort(String text, String port) {
        if (port.isEmpty() || port.length() > 5 || !port.chars().allMatch(Character::isDigit)) {
            throw new IllegalArgumentException("address '" + text + "': port '" + port + "' is not a number from 0 to 65535");
        }
        int p = Integer.parseInt(port);
        if (p > 65535) {
            throw new IllegalArgumentException("address '" + text + "': port " + p + " is out of range 0..65535");
        }
        return p;
    }

    /** The canonical form, as status shows it. */
    @Override
    public String toString() {
        switch (kind) {
            case UNIX:
                // parse drops a "//" after "unix:", so a path that starts with it keeps one more
                return (path.startsWith("//") ? "unix://" : "unix:") + path;
            case UDP:
                return "udp://" + hostPort();
            default:
                return "tcp://" + hostPort();
        }
    }

    private String hostPort() {
        String h = host == null ? "" : host.contains(":") ? "[" + host + "]" : host;
        return h + ":" + port;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Address && o.toString().equals(toString());
    }

    @Override
    public int hashCode() {
        return Objects.hash(toString());
    }
}
