package dev.supervisor.daemon;

import java.nio.charset.StandardCharsets;

/**
 * sd_notify(3) from the supervisor to its own service manager, when it was given a
 * NOTIFY_SOCKET: READY=1 once generation 1 serves, RELOADING=1 and READY=1 around each reload,
 * STOPPING=1, and STATUS= with the serving generation. Owns its socket fd for the daemon's life.
 */
public final class SystemdNotifier {
    private final byte[] address;
    private final int fd;

    private SystemdNotifier(byte[] address, int fd) {
        this.address = address;
        this.fd = fd;
    }

    /** A notifier for {@code notifySocket}, or null when there is none (not run by systemd). */
    public static SystemdNotifier of(String notifySocket) {
        if (notifySocket == null || notifySocket.isEmpty()) {
            return null;
        }
        int fd = Posix.check(Posix.libc().socket(Posix.AF_UNIX, Posix.SOCK_DGRAM | Posix.SOCK_CLOEXEC, 0), "socket(AF_UNIX, SOCK_DGRAM)");
        return new SystemdNotifier(Posix.sockaddrUnix(notifySocket), fd);
    }

    /** Sends one datagram of newline-separated assignments; a failure is logged, never fatal. */
    public void send(String state) {
        byte[] b = state.getBytes(StandardCharsets.UTF_8);
        if (Posix.libc().sendto(fd, b, b.length, 0, address, address.length) < 0) {
            Log.STDERR.info("sd_notify(" + state.replace('\n', ' ') + ") failed: " + Posix.describe(Posix.errno()));
        }
    }

    /** MONOTONIC_USEC for RELOADING=1: System.nanoTime() is CLOCK_MONOTONIC on Linux. */
    public static String monotonicUsec() {
        return "MONOTONIC_USEC=" + System.nanoTime() / 1000;
    }
}
