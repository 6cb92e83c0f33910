package dev.supervisor.worker;

import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.Wire;

/**
 * An sd_notify(3) client: one datagram per message to the AF_UNIX socket named by NOTIFY_SOCKET
 * (a path, or '@' for the abstract namespace). Without NOTIFY_SOCKET every send is a no-op.
 */
final class Notify {
    /** The NOTIFY_SOCKET value, or null. */
    private final String socket;

    private Notify(String socket) {
        this.socket = socket;
    }

    static Notify fromEnvironment(Map<String, String> env) {
        String s = env.get(Wire.NOTIFY_SOCKET);
        return new Notify(s == null || s.isEmpty() ? null : s);
    }

    /**
     * Sends {@code message} ("READY=1", "STATUS=...", several separated by newlines).
     *
     * @throws IllegalStateException when NOTIFY_SOCKET is not a socket address
     * @throws UncheckedIOException when the datagram cannot be sent (no one reads the socket)
     */
    void send(String message) {
        if (socket == null) {
            return;
        }
        byte[] address = address();
        byte[] data = message.getBytes(StandardCharsets.UTF_8);
        Libc.Calls c = Libc.calls();
        int fd = c.socket(Libc.AF_UNIX, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0) {
            throw new UncheckedIOException(Libc.failure("socket(AF_UNIX, SOCK_DGRAM) for NOTIFY_SOCKET"));
        }
        try {
            long sent;
            do {
                sent = c.sendto(fd, data, data.length, Libc.MSG_NOSIGNAL, address, address.length);
            } while (sent < 0 && Libc.errno() == Libc.EINTR);
            if (sent < 0) {
                throw new UncheckedIOException(Libc.failure("sendto(NOTIFY_SOCKET=" + socket + ", \"" + firstLine(message) + "\")"));
            }
        } finally {
            c.close(fd);
        }
    }

    private byte[] address() {
        if (!socket.startsWith("/") && !socket.startsWith("@")) {
            throw new IllegalStateException("NOTIFY_SOCKET=" + socket + ": expected an absolute path or an @abstract name");
        }
        try {
            return Libc.unixAddress(socket);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("NOTIFY_SOCKET: " + e.getMessage());
        }
    }

    private static String firstLine(String message) {
        int nl = message.indexOf('\n');
        return nl < 0 ? message : message.substring(0, nl) + "...";
    }
}
