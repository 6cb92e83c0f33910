package dev.supervisor.daemon;

import java.nio.charset.StandardCharsets;

import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.NativeException;

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

    /**
     * A notifier for {@code notifySocket}, or null when there is none (not run by systemd).
     *
     * @throws IllegalArgumentException when {@code notifySocket} does not fit a sockaddr_un
     */
    public static SystemdNotifier of(String notifySocket) throws NativeException {
        if (notifySocket == null || notifySocket.isEmpty()) {
            return null;
        }
        byte[] address = Libc.unixAddress(notifySocket);
        int fd = Libc.check(Libc.daemon().socket(Libc.AF_UNIX, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0), "socket(AF_UNIX, SOCK_DGRAM)");
        return new SystemdNotifier(address, fd);
    }

    /** Sends one datagram of newline-separated assignments; a failure is logged, never fatal. */
    public void send(String state) {
        byte[] b = state.getBytes(StandardCharsets.UTF_8);
        if (Libc.daemon().sendto(fd, b, b.length, 0, address, address.length) < 0) {
            Log.STDERR.info("sd_notify(" + state.replace('\n', ' ') + ") failed: " + Libc.describe(Libc.errno()));
        }
    }

    /** MONOTONIC_USEC for RELOADING=1: System.nanoTime() is CLOCK_MONOTONIC on Linux. */
    public static String monotonicUsec() {
        return "MONOTONIC_USEC=" + System.nanoTime() / 1000;
    }
}
