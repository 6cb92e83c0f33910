package dev.supervisor.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One bound socket. Owns {@link #fd} (FD_CLOEXEC, never handed out itself: workers get dups)
 * from bind until {@link #close}, the one close point.
 */
public final class Listener {
    private final String name;
    private final Address address;
    private final int fd;
    private final String bound;
    /** Passed in by our own parent (systemd): its socket file is not ours to remove. */
    private final boolean inherited;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Generations that use this listener; only the supervisor thread touches it. */
    int users;

    Listener(String name, Address address, int fd, String bound) {
        this(name, address, fd, bound, false);
    }

    Listener(String name, Address address, int fd, String bound, boolean inherited) {
        this.name = name;
        this.address = address;
        this.fd = fd;
        this.bound = bound;
        this.inherited = inherited;
    }

    public boolean inherited() {
        return inherited;
    }

    public String name() { return name; }
    public Address address() { return address; }
    public int fd() { return fd; }

    /** The address the kernel bound, with the real port when 0 was asked for. */
    public String bound() { return bound; }

    public boolean isOpen() {
        return !closed.get();
    }

    public void close() {
        if (closed.compareAndSet(false, true)) {
            Posix.close(fd);
            if (address.kind() == Address.Kind.UNIX && !inherited) {
                try {
                    Files.deleteIfExists(Path.of(address.path()));
                } catch (IOException ignored) {
                    // a socket file left behind is replaced as stale by the next bind
                }
            }
        }
    }

    @Override
    public String toString() {
        return name + "=" + bound;
    }
}
