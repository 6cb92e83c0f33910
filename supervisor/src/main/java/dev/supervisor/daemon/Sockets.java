package dev.supervisor.daemon;

import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnixDomainSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;

import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.NativeException;

/** Binds listeners as systemd's socket units would: the family the address asks for, FD_CLOEXEC. */
public final class Sockets {
    private Sockets() {}

    static final int BACKLOG = 4096;

    /** A bound (and, for streams, listening) socket for {@code a}; the caller owns the fd. */
    public static Listener bind(String name, Address a) {
        switch (a.kind()) {
            case UNIX:
                return bindUnix(name, a);
            default:
                return bindInet(name, a);
        }
    }

    private static Listener bindInet(String name, Address a) {
        int type = a.kind() == Address.Kind.UDP ? Libc.SOCK_DGRAM : Libc.SOCK_STREAM;
        InetAddress host = null;
        if (a.host() != null) {
            try {
                host = InetAddress.getByName(a.host());
            } catch (UnknownHostException e) {
                throw new ListenerException("listener " + name + "=" + a + ": cannot resolve host '" + a.host() + "'", false);
            }
        }
        Libc.DaemonCalls c = Libc.daemon();
        boolean v6 = host == null || host instanceof Inet6Address;
        int fd = c.socket(v6 ? Libc.AF_INET6 : Libc.AF_INET, type | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0 && host == null) {
            v6 = false; // no IPv6 on this host: every address means every IPv4 address
            fd = c.socket(Libc.AF_INET, type | Libc.SOCK_CLOEXEC, 0);
        }
        if (fd < 0) {
            throw new ListenerException("socket() for " + name + "=" + a + " failed: " + Libc.describe(Libc.errno()), true);
        }
        try {
            c.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_REUSEADDR, new int[] {1}, 4);
            if (v6 && host == null) {
                c.setsockopt(fd, Libc.IPPROTO_IPV6, Libc.IPV6_V6ONLY, new int[] {0}, 4);
            }
            byte[] sa = v6 ? sockaddrIn6(host == null ? null : (Inet6Address) host, a.port()) : sockaddrIn((Inet4Address) host, a.port());
            bindAndListen(fd, sa, a, type);
            return new Listener(name, a, fd, (a.kind() == Address.Kind.UDP ? "udp://" : "tcp://") + localAddress(fd));
        } catch (RuntimeException e) {
            Libc.close(fd);
            throw e;
        }
    }

    private static Listener bindUnix(String name, Address a) {
        Path path = Path.of(a.path());
        removeStale(name, a, path);
        int fd = Libc.daemon().socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0);
        if (fd < 0) {
            throw new ListenerException("socket(AF_UNIX) for " + name + "=" + a + " failed: " + Libc.describe(Libc.errno()), true);
        }
        try {
            byte[] sa = Libc.unixAddress(a.path());
            bindAndListen(fd, sa, a, Libc.SOCK_STREAM);
            return new Listener(name, a, fd, a.toString());
        } catch (RuntimeException e) {
            Libc.close(fd);
            throw e;
        }
    }

    /** A socket file left by a dead run is removed; a live one (something accepts) is an error. */
    private static void removeStale(String name, Address a, Path path) {
        PosixFileAttributes attrs;
        try {
            attrs = Files.readAttributes(path, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            return; // nothing there
        }
        if (!attrs.isOther()) {
            throw new ListenerException("listener " + name + "=" + a + ": " + path + " exists and is not a socket", false);
        }
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
            throw new ListenerException("bind(" + a + ") failed: a running process accepts on " + path, true);
        } catch (IOException refused) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                throw new ListenerException("cannot remove stale socket " + path + ": " + e.getMessage(), true);
            }
        }
    }

    private static void bindAndListen(int fd, byte[] sa, Address a, int type) {
        Libc.DaemonCalls c = Libc.daemon();
        if (c.bind(fd, sa, sa.length) != 0) {
            int errno = Libc.errno();
            String hint = errno == 13 ? ": run as root or use a port above 1023" : errno == 98 ? ": another process listens there" : "";
            throw new ListenerException("bind(" + a + ") failed: " + Libc.describe(errno) + hint, true);
        }
        if (type == Libc.SOCK_STREAM && c.listen(fd, BACKLOG) != 0) {
            throw new ListenerException("listen(" + a + ") failed: " + Libc.describe(Libc.errno()), true);
        }
    }

    static byte[] sockaddrIn(Inet4Address host, int port) {
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
        b.putShort((short) Libc.AF_INET);
        b.order(ByteOrder.BIG_ENDIAN).putShort((short) port);
        b.put(host.getAddress());
        return b.array();
    }

    static byte[] sockaddrIn6(Inet6Address host, int port) {
        ByteBuffer b = ByteBuffer.allocate(28).order(ByteOrder.nativeOrder());
        b.putShort((short) Libc.AF_INET6);
        b.order(ByteOrder.BIG_ENDIAN).putShort((short) port);
        b.putInt(0);
        b.put(host == null ? new byte[16] : host.getAddress());
        b.order(ByteOrder.nativeOrder()).putInt(host == null ? 0 : host.getScopeId());
        return b.array();
    }

    /**
     * A listener passed to us by our own parent (systemd's .socket unit) under {@code name}: used
     * as it is, never bound again. {@code fd} becomes FD_CLOEXEC and the listener's own.
     */
    public static Listener inherited(String name, Address configured, int fd) {
        try {
            Posix.setCloexec(fd);
        } catch (NativeException e) {
            throw new ListenerException("inherited " + name + ": " + e.getMessage(), true);
        }
        String local = localAddress(fd);
        String bound = local.startsWith("unix:") ? local : configured.kind() == Address.Kind.UDP ? "udp://" + local : "tcp://" + local;
        return new Listener(name, configured, fd, bound, true);
    }

    /**
     * Whether stream socket {@code fd} still listens (SO_ACCEPTCONN): false once any process that
     * holds a dup of it called shutdown(SHUT_RD) on it. An fd the kernel cannot tell about counts
     * as listening: only a sure "no" retires a socket.
     */
    static boolean accepting(int fd) {
        return Libc.socketOption(fd, Libc.SOL_SOCKET, Libc.SO_ACCEPTCONN) != 0;
    }

    /** "127.0.0.1:8080", "[::]:8080" or "unix:/path" as getsockname(2) says. */
    static String localAddress(int fd) {
        byte[] sa = new byte[128];
        int[] len = {sa.length};
        if (Libc.daemon().getsockname(fd, sa, len) != 0) {
            throw new ListenerException(Libc.failure("getsockname(" + fd + ")").getMessage(), true);
        }
        ByteBuffer b = ByteBuffer.wrap(sa).order(ByteOrder.nativeOrder());
        int family = b.getShort(0);
        if (family == Libc.AF_UNIX) {
            int end = 2;
            while (end < Math.min(len[0], sa.length) && sa[end] != 0) {
                end++;
            }
            return "unix:" + new String(sa, 2, end - 2, java.nio.charset.StandardCharsets.UTF_8);
        }
        int port = Short.toUnsignedInt(b.order(ByteOrder.BIG_ENDIAN).getShort(2));
        try {
            if (family == Libc.AF_INET) {
                byte[] ip = new byte[4];
                b.position(4);
                b.get(ip);
                return InetAddress.getByAddress(ip).getHostAddress() + ":" + port;
            }
            byte[] ip = new byte[16];
            b.position(8);
            b.get(ip);
            String h = InetAddress.getByAddress(ip).getHostAddress();
            return "[" + (h.equals("0:0:0:0:0:0:0:0") ? "::" : h.equals("0:0:0:0:0:0:0:1") ? "::1" : h) + "]:" + port;
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }
}
