package dev.supervisor.worker;

import java.io.FileDescriptor;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.ProtocolFamily;
import java.net.StandardProtocolFamily;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.spi.SelectorProvider;

import dev.supervisor.protocol.Libc;

/**
 * Turns an inherited socket fd into the JDK's own channel, so that it works with a Selector,
 * Netty and Jetty like any channel the JDK opened itself.
 *
 * <p>The JDK has no public way to do this for an arbitrary fd ({@code System.inheritedChannel()}
 * takes only fd 0, once per JVM), so this calls the constructors the JDK uses for inherited
 * channels, in {@code sun.nio.ch}. They exist with the same signatures on JDK 17 through 25 and
 * need {@code --add-opens java.base/sun.nio.ch=ALL-UNNAMED}.
 *
 * <p>The fd's blocking mode is left as it is: O_NONBLOCK is shared by every process holding the
 * listener, and the JDK copes with either (a blocking-mode accept parks on EAGAIN).
 */
final class Channels {
    private Channels() {}

    /** A TCP (IPv4 or IPv6) or AF_UNIX stream socket in the listening state on {@code fd}. */
    static ServerSocketChannel serverSocket(int fd, String name) {
        Socket s = Socket.probe(fd, name);
        if (s.type != Libc.SOCK_STREAM || !s.listening) {
            String hint = s.type == Libc.SOCK_DGRAM ? ": use Activation.datagram(\"" + name + "\")" : "";
            throw new IllegalStateException(s + " is " + s.kind() + ", not a stream listener" + hint);
        }
        Reflection r = Reflection.get(s);
        ProtocolFamily family = s.protocolFamily();
        try {
            ServerSocketChannel channel = (ServerSocketChannel) r.serverSocket.newInstance(SelectorProvider.provider(), family,
                    r.newFd.invoke(null, fd), true);
            if (family != StandardProtocolFamily.UNIX) {
                // The constructor assumes INET6 whenever the host has IPv6; accepted channels
                // inherit the family, and IP_TOS on an AF_INET socket needs the truth.
                r.serverFamily.set(channel, family);
            }
            return channel;
        } catch (InvocationTargetException e) {
            throw new IllegalStateException("cannot wrap " + s + " in a ServerSocketChannel: " + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException e) {
            throw r.failure(s, e);
        }
    }

    /** A UDP (IPv4 or IPv6) socket on {@code fd}. */
    static DatagramChannel datagram(int fd, String name) {
        Socket s = Socket.probe(fd, name);
        if (s.type != Libc.SOCK_DGRAM || s.family == Libc.AF_UNIX) {
            String hint = s.type == Libc.SOCK_STREAM && s.listening ? ": use Activation.serverSocket(\"" + name + "\")"
                    : s.type == Libc.SOCK_DGRAM ? ": the JDK has no channel for AF_UNIX datagram sockets" : "";
            throw new IllegalStateException(s + " is " + s.kind() + ", not a UDP socket" + hint);
        }
        Reflection r = Reflection.get(s);
        ProtocolFamily family = s.protocolFamily();
        try {
            DatagramChannel channel = (DatagramChannel) r.datagram.newInstance(SelectorProvider.provider(), r.newFd.invoke(null, fd));
            // Same assumption as above; for UDP it breaks send() on an AF_INET socket (EAFNOSUPPORT).
            r.datagramFamily.set(channel, family);
            return channel;
        } catch (InvocationTargetException e) {
            throw new IllegalStateException("cannot wrap " + s + " in a DatagramChannel: " + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException e) {
            throw r.failure(s, e);
        }
    }

    /** What the kernel says about an fd: its family, type and whether it listens. */
    private static final class Socket {
        final int fd;
        final String name;
        final int family;
        final int type;
        final boolean listening;

        private Socket(int fd, String name, int family, int type, boolean listening) {
            this.fd = fd;
            this.name = name;
            this.family = family;
            this.type = type;
            this.listening = listening;
        }

        static Socket probe(int fd, String name) {
            int type = Libc.socketOption(fd, Libc.SOL_SOCKET, Libc.SO_TYPE);
            if (type < 0) {
                int errno = Libc.errno();
                String what = errno == Libc.EBADF ? "is not open"
                        : errno == Libc.ENOTSOCK ? "is not a socket" : "cannot be read: " + Libc.describe(errno);
                throw new IllegalStateException("listener '" + name + "' (fd " + fd + ") " + what
                        + ": the process that started this one set LISTEN_FDS but did not pass the socket on this fd");
            }
            int family = Libc.family(fd);
            boolean listening = type == Libc.SOCK_STREAM && Libc.socketOption(fd, Libc.SOL_SOCKET, Libc.SO_ACCEPTCONN) == 1;
            return new Socket(fd, name, family, type, listening);
        }

        ProtocolFamily protocolFamily() {
            switch (family) {
                case Libc.AF_INET:
                    return StandardProtocolFamily.INET;
                case Libc.AF_INET6:
                    return StandardProtocolFamily.INET6;
                case Libc.AF_UNIX:
                    return StandardProtocolFamily.UNIX;
                default:
                    throw new IllegalStateException(this + " has address family " + family + "; expected AF_INET, AF_INET6 or AF_UNIX");
            }
        }

        /** "a UDP socket", "a TCP listener", "an AF_UNIX stream socket that does not listen". */
        String kind() {
            boolean unix = family == Libc.AF_UNIX;
            switch (type) {
                case Libc.SOCK_STREAM:
                    return (unix ? "an AF_UNIX stream " : "a TCP ") + (listening ? "listener" : "socket that does not listen");
                case Libc.SOCK_DGRAM:
                    return unix ? "an AF_UNIX datagram socket" : "a UDP socket";
                case Libc.SOCK_SEQPACKET:
                    return "a SOCK_SEQPACKET socket";
                default:
                    return "a socket of type " + type;
            }
        }

        @Override
        public String toString() {
            return "listener '" + name + "' (fd " + fd + ")";
        }
    }

    /** The JDK internals this class needs, looked up once. */
    private static final class Reflection {
        final Constructor<?> serverSocket;
        final Constructor<?> datagram;
        final Method newFd;
        final Field serverFamily;
        final Field datagramFamily;
        private final Exception lookupFailure;

        private static final Reflection INSTANCE = new Reflection();

        private Reflection() {
            Constructor<?> ss = null, dc = null;
            Method fd = null;
            Field sf = null, df = null;
            Exception failure = null;
            try {
                Class<?> ssImpl = Class.forName("sun.nio.ch.ServerSocketChannelImpl");
                Class<?> dcImpl = Class.forName("sun.nio.ch.DatagramChannelImpl");
                ss = ssImpl.getDeclaredConstructor(SelectorProvider.class, ProtocolFamily.class, FileDescriptor.class, boolean.class);
                dc = dcImpl.getDeclaredConstructor(SelectorProvider.class, FileDescriptor.class);
                fd = Class.forName("sun.nio.ch.IOUtil").getDeclaredMethod("newFD", int.class);
                sf = ssImpl.getDeclaredField("family");
                df = dcImpl.getDeclaredField("family");
                ss.setAccessible(true);
                dc.setAccessible(true);
                fd.setAccessible(true);
                sf.setAccessible(true);
                df.setAccessible(true);
            } catch (ReflectiveOperationException | RuntimeException e) {
                failure = e;
            }
            serverSocket = ss;
            datagram = dc;
            newFd = fd;
            serverFamily = sf;
            datagramFamily = df;
            lookupFailure = failure;
        }

        static Reflection get(Socket s) {
            if (INSTANCE.lookupFailure != null) {
                throw INSTANCE.failure(s, INSTANCE.lookupFailure);
            }
            return INSTANCE;
        }

        /** The error for {@code s}, naming the JVM flags that would have let us in. */
        IllegalStateException failure(Socket s, Exception e) {
            String module = Channels.class.getModule().isNamed() ? Channels.class.getModule().getName() : "ALL-UNNAMED";
            String flags = "--add-opens java.base/sun.nio.ch=" + module;
            if (Runtime.version().feature() >= 24) {
                flags += " --enable-native-access=ALL-UNNAMED";
            }
            if (e instanceof ReflectiveOperationException && !(e instanceof IllegalAccessException)) {
                // Not a permission problem: this JDK's internals differ from 17..25's.
                return new IllegalStateException("cannot wrap " + s + " in a JDK channel: this JDK (" + Runtime.version()
                        + ") lacks " + e.getMessage() + "; the worker library supports JDK 17 to 25", e);
            }
            return new IllegalStateException("cannot wrap " + s + " in a JDK channel: " + e.getMessage()
                    + "; start the JVM with " + flags + " (supervisor run passes this to java workers in JDK_JAVA_OPTIONS),"
                    + " or for java -jar put Add-Opens: java.base/sun.nio.ch and Enable-Native-Access: ALL-UNNAMED in the jar's manifest", e);
        }
    }
}
