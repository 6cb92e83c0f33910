package dev.supervisor.daemon;

import java.io.FileDescriptor;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.net.ProtocolFamily;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.spi.SelectorProvider;

/**
 * JDK AF_UNIX channels over fds the previous supervisor image left open (the control socket and
 * its connections), made with the JDK's own channel constructors, which exist with these
 * signatures on JDK 17 to 25 (needs {@code --add-opens java.base/sun.nio.ch=ALL-UNNAMED}, which
 * the launcher gives).
 */
final class InheritedChannels {
    private InheritedChannels() {}

    static ServerSocketChannel unixServer(int fd) throws IOException {
        try {
            Constructor<?> c = Class.forName("sun.nio.ch.ServerSocketChannelImpl").getDeclaredConstructor(SelectorProvider.class,
                    ProtocolFamily.class, FileDescriptor.class, boolean.class);
            c.setAccessible(true);
            return (ServerSocketChannel) c.newInstance(SelectorProvider.provider(), StandardProtocolFamily.UNIX, newFd(fd), true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IOException("cannot take up the control socket (fd " + fd + "): " + e, e);
        }
    }

    static SocketChannel unixConnection(int fd) throws IOException {
        try {
            Constructor<?> c = Class.forName("sun.nio.ch.SocketChannelImpl").getDeclaredConstructor(SelectorProvider.class,
                    ProtocolFamily.class, FileDescriptor.class, SocketAddress.class);
            c.setAccessible(true);
            return (SocketChannel) c.newInstance(SelectorProvider.provider(), StandardProtocolFamily.UNIX, newFd(fd),
                    UnixDomainSocketAddress.of(""));
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IOException("cannot take up a control connection (fd " + fd + "): " + e, e);
        }
    }

    /** Throws what taking up a channel would: the JDK internals are missing or closed to us. For an upgrade's pre-flight. */
    static void check() throws IOException {
        try {
            Class.forName("sun.nio.ch.ServerSocketChannelImpl").getDeclaredConstructor(SelectorProvider.class, ProtocolFamily.class,
                    FileDescriptor.class, boolean.class).setAccessible(true);
            Class.forName("sun.nio.ch.SocketChannelImpl").getDeclaredConstructor(SelectorProvider.class, ProtocolFamily.class,
                    FileDescriptor.class, SocketAddress.class).setAccessible(true);
            Class.forName("sun.nio.ch.IOUtil").getDeclaredMethod("newFD", int.class).setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IOException("cannot take up the control socket's channels on this JDK (" + Runtime.version() + "): " + e, e);
        }
    }

    private static FileDescriptor newFd(int fd) throws ReflectiveOperationException {
        Method m = Class.forName("sun.nio.ch.IOUtil").getDeclaredMethod("newFD", int.class);
        m.setAccessible(true);
        return (FileDescriptor) m.invoke(null, fd);
    }
}
