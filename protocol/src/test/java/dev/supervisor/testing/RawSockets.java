package dev.supervisor.testing;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import dev.supervisor.protocol.Libc;
import jnr.ffi.LibraryLoader;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;

/**
 * Sockets made the way a supervisor or systemd makes them, as bare fds, so that tests can hand
 * the worker library exactly what a worker inherits. Test code only: failures throw.
 */
public final class RawSockets {
    private RawSockets() {}

    /** Calls the tests need besides those of {@link Libc}. */
    public interface Calls {
        int bind(int fd, @In byte[] addr, int len);
        int listen(int fd, int backlog);
        int accept4(int fd, byte[] addr, int[] len, int flags);
        int socketpair(int domain, int type, int protocol, @Out int[] sv);
        int pipe2(@Out int[] fds, int flags);
        long recv(int fd, @Out byte[] buf, long len, int flags);
        int fcntl(int fd, int cmd, int arg);
        int kill(int pid, int sig);
        int getpid();
    }

    public static final int F_DUPFD_CLOEXEC = 1030, F_GETFD = 1, FD_CLOEXEC = 1;
    public static final int MSG_DONTWAIT = 0x40;
    public static final int SIGUSR1 = 10;

    private static final Calls CALLS = LibraryLoader.create(Calls.class).load("c");

    public static Calls calls() {
        return CALLS;
    }

    /** A listening TCP socket on {@code host} port 0, of the host's family. */
    public static int tcpListener(String host) {
        int fd = bound(host, Libc.SOCK_STREAM);
        check(CALLS.listen(fd, 16), "listen");
        return fd;
    }

    /** A TCP socket that was never bound nor listens. */
    public static int tcpUnbound() {
        return check(Libc.calls().socket(Libc.AF_INET, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0), "socket");
    }

    /** A UDP socket bound to {@code host} port 0. */
    public static int udp(String host) {
        return bound(host, Libc.SOCK_DGRAM);
    }

    /** A listening AF_UNIX stream socket at {@code path}. */
    public static int unixListener(String path) {
        int fd = unix(path, Libc.SOCK_STREAM);
        check(CALLS.listen(fd, 16), "listen");
        return fd;
    }

    /** An AF_UNIX datagram socket bound to {@code path} ('@' for the abstract namespace). */
    public static int unixDatagram(String path) {
        return unix(path, Libc.SOCK_DGRAM);
    }

    /** A connected pair of AF_UNIX stream sockets. */
    public static int[] socketpair() {
        int[] sv = new int[2];
        check(CALLS.socketpair(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0, sv), "socketpair");
        return sv;
    }

    /** A pipe {read, write}: fds that are not sockets. */
    public static int[] pipe() {
        int[] fds = new int[2];
        check(CALLS.pipe2(fds, Libc.SOCK_CLOEXEC), "pipe2");
        return fds;
    }

    /** Blocks until a peer connects to listener {@code fd}; returns the connection's fd. */
    public static int accept(int fd) {
        return check(CALLS.accept4(fd, null, null, Libc.SOCK_CLOEXEC), "accept4");
    }

    public static int dup(int fd) {
        return check(CALLS.fcntl(fd, F_DUPFD_CLOEXEC, 0), "fcntl(F_DUPFD_CLOEXEC)");
    }

    public static boolean isOpen(int fd) {
        return CALLS.fcntl(fd, F_GETFD, 0) >= 0;
    }

    public static boolean isCloexec(int fd) {
        return (check(CALLS.fcntl(fd, F_GETFD, 0), "fcntl(F_GETFD)") & FD_CLOEXEC) != 0;
    }

    /** The datagram waiting on {@code fd}, which must have arrived already; null if none did. */
    public static String receiveNow(int fd) {
        byte[] buf = new byte[4096];
        long n = CALLS.recv(fd, buf, buf.length, MSG_DONTWAIT);
        return n < 0 ? null : new String(buf, 0, (int) n, StandardCharsets.UTF_8);
    }

    /** The address getsockname(2) reports for an AF_INET or AF_INET6 socket. */
    public static InetSocketAddress localAddress(int fd) {
        byte[] sa = new byte[128];
        int[] len = {sa.length};
        check(Libc.calls().getsockname(fd, sa, len), "getsockname");
        ByteBuffer b = ByteBuffer.wrap(sa).order(ByteOrder.nativeOrder());
        int family = b.getShort(0);
        int port = Short.toUnsignedInt(b.order(ByteOrder.BIG_ENDIAN).getShort(2));
        byte[] ip = new byte[family == Libc.AF_INET ? 4 : 16];
        System.arraycopy(sa, family == Libc.AF_INET ? 4 : 8, ip, 0, ip.length);
        try {
            return new InetSocketAddress(InetAddress.getByAddress(ip), port);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int bound(String host, int type) {
        InetAddress address;
        try {
            address = InetAddress.getByName(host);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(host, e);
        }
        boolean v4 = address instanceof Inet4Address;
        int fd = check(Libc.calls().socket(v4 ? Libc.AF_INET : Libc.AF_INET6, type | Libc.SOCK_CLOEXEC, 0), "socket");
        ByteBuffer sa = ByteBuffer.allocate(v4 ? 16 : 28).order(ByteOrder.nativeOrder());
        sa.putShort((short) (v4 ? Libc.AF_INET : Libc.AF_INET6)).putShort((short) 0); // port 0
        if (!v4) {
            sa.putInt(0); // flowinfo
        }
        sa.put(address.getAddress());
        check(CALLS.bind(fd, sa.array(), sa.capacity()), "bind(" + host + ")");
        return fd;
    }

    private static int unix(String path, int type) {
        int fd = check(Libc.calls().socket(Libc.AF_UNIX, type | Libc.SOCK_CLOEXEC, 0), "socket(AF_UNIX)");
        byte[] sa = Libc.unixAddress(path);
        check(CALLS.bind(fd, sa, sa.length), "bind(" + path + ")");
        return fd;
    }

    private static int check(int rc, String call) {
        if (rc < 0) {
            throw new IllegalStateException(Libc.failure(call).getMessage());
        }
        return rc;
    }
}
