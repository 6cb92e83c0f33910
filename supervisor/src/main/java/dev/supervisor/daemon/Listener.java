package dev.supervisor.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

import dev.supervisor.protocol.Libc;

import dev.supervisor.daemon.upgrade.State.SocketState;

/**
 * A bound socket under the name one config gives it. The socket is the listener's identity: a
 * reload that renames it, swaps two names or spells its address differently gets the same
 * socket under the new name. The {@link Socket} owns the fd (FD_CLOEXEC, never
 * handed out itself: workers get dups) from bind until {@link #close}, its one close point.
 */
public final class Listener {
    /** A worker shut the socket down (it no longer accepts): the next generation gets a fresh one. */
    public enum State { LISTENING, SHUT_DOWN }

    /** The bound socket that every name of it shares. */
    static final class Socket {
        final Address address;
        final int fd;
        final String bound;
        /** Passed in by our own parent (systemd): its socket file is not ours to remove. */
        final boolean inherited;
        private final AtomicBoolean closed = new AtomicBoolean();
        /** The rest is the supervisor thread's: generations that use it, its latest name, its state. */
        int users;
        String name;
        State state = State.LISTENING;
        /** Which generations held it when it was found shut down. */
        String shutDownBy;

        Socket(String name, Address address, int fd, String bound, boolean inherited) {
            this.name = name;
            this.address = address;
            this.fd = fd;
            this.bound = bound;
            this.inherited = inherited;
        }

        /** What the next image needs of it; {@code retired}: shut down and replaced, kept for the generations holding it. */
        SocketState save(boolean retired) {
            SocketState ss = new SocketState();
            ss.name = name;
            ss.address = address.toString();
            ss.fd = fd;
            ss.bound = bound;
            ss.inherited = inherited;
            ss.shutDown = state == State.SHUT_DOWN;
            ss.shutDownBy = shutDownBy;
            ss.retired = retired;
            return ss;
        }

        /** The socket the previous image saved as {@code ss}; this one owns its fd from now on. */
        static Socket restored(SocketState ss) {
            Socket so = new Socket(ss.name, Address.parse(ss.address), ss.fd, ss.bound, ss.inherited);
            so.state = ss.shutDown ? State.SHUT_DOWN : State.LISTENING;
            so.shutDownBy = ss.shutDownBy;
            return so;
        }

        void close() {
            if (closed.compareAndSet(false, true)) {
                Libc.close(fd);
                if (address.kind() == Address.Kind.UNIX && !inherited) {
                    try {
                        Files.deleteIfExists(Path.of(address.path()));
                    } catch (IOException ignored) {
                        // a socket file left behind is replaced as stale by the next bind
                    }
                }
            }
        }
    }

    private final String name;
    final Socket socket;

    Listener(String name, Address address, int fd, String bound) {
        this(name, address, fd, bound, false);
    }

    Listener(String name, Address address, int fd, String bound, boolean inherited) {
        this(name, new Socket(name, address, fd, bound, inherited));
    }

    private Listener(String name, Socket socket) {
        this.name = name;
        this.socket = socket;
    }

    /** {@code socket} under {@code name}. */
    static Listener of(String name, Socket socket) {
        return new Listener(name, socket);
    }

    public State state() {
        return socket.state;
    }

    /** Which generations held the socket when it was found shut down, or null. */
    public String shutDownBy() {
        return socket.shutDownBy;
    }

    public boolean inherited() {
        return socket.inherited;
    }

    public String name() { return name; }
    public Address address() { return socket.address; }
    public int fd() { return socket.fd; }

    /** The address the kernel bound, with the real port when 0 was asked for. */
    public String bound() { return socket.bound; }

    /** Whether {@code other} names the same socket (names and Listener objects come and go; the socket stays). */
    boolean sameSocket(Listener other) {
        return socket == other.socket;
    }

    public boolean isOpen() {
        return !socket.closed.get();
    }

    /** Closes the socket, whatever names it has (only for listeners no generation got). */
    public void close() {
        socket.close();
    }

    @Override
    public String toString() {
        return name + "=" + socket.bound;
    }
}
