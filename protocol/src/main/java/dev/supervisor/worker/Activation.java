package dev.supervisor.worker;

import java.nio.channels.Channel;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

import dev.supervisor.protocol.Wire;

/**
 * What a worker process gets from the supervisor (or from systemd socket activation): its
 * listening sockets as JDK channels, by name, and a way to say it is ready and to learn that it
 * must drain.
 *
 * <pre>
 * ServerSocketChannel web = Activation.serverSocket("web");
 * Activation.onDrain(server::stopAccepting);
 * Activation.ready();
 * </pre>
 *
 * <p>The listeners come from LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES, read once per JVM; when this
 * process inherited none and SUPERVISOR_SOCKET is set, they are asked of the supervisor. Each
 * listener is shared with the supervisor and with the other workers: closing a channel closes
 * only this process's copy, and its blocking mode (O_NONBLOCK) is shared by all of them.
 *
 * <p>Wrapping an fd in a JDK channel needs the JVM flag
 * {@code --add-opens java.base/sun.nio.ch=ALL-UNNAMED}, and on JDK 24+ the native glue wants
 * {@code --enable-native-access=ALL-UNNAMED}; {@code supervisor run} passes both to its workers in
 * JDK_JAVA_OPTIONS unless the {@code java} command or its jar's manifest ({@code Add-Opens},
 * {@code Enable-Native-Access}) has them, and the error names them when they are missing. All
 * methods are thread-safe.
 */
public final class Activation {
    private Activation() {}

    /** Read on first use, so that a worker that never asks pays nothing. */
    private static final class Given {
        static final Map<String, String> ENV = System.getenv();
        static final Listeners LISTENERS = Listeners.fromEnvironment(ENV, ProcessHandle.current().pid());
        static final Notify NOTIFY = Notify.fromEnvironment(ENV);
    }

    private static final Map<String, Channel> CHANNELS = new ConcurrentHashMap<>();
    private static final Drain DRAIN = new Drain();

    /**
     * The stream listener called {@code name} (TCP or AF_UNIX), as the JDK's own channel. Every
     * call with the same name returns the same channel.
     *
     * @param name the listener's name, as in LISTEN_FDNAMES ({@code --listen NAME=ADDRESS})
     * @return the listener, in the blocking mode it has (shared with the other processes)
     * @throws IllegalStateException when there is no such listener (the message lists the ones
     *     there are and how this process was started), when it is not a stream listener, or when
     *     the JVM does not let the library in (the message names the flag to add)
     */
    public static ServerSocketChannel serverSocket(String name) {
        return channel(name, ServerSocketChannel.class);
    }

    /**
     * The UDP socket called {@code name}, as the JDK's own channel. Every call with the same name
     * returns the same channel.
     *
     * @param name the listener's name, as in LISTEN_FDNAMES ({@code --listen NAME=udp://...})
     * @return the socket, in the blocking mode it has (shared with the other processes)
     * @throws IllegalStateException as {@link #serverSocket}, or when it is not a UDP socket
     */
    public static DatagramChannel datagram(String name) {
        return channel(name, DatagramChannel.class);
    }

    /**
     * The names of this process's listeners in fd order (LISTEN_FDNAMES).
     *
     * @return the names, unmodifiable; empty when this process got no listeners
     * @throws IllegalStateException when the hand-over is there but cannot be used (malformed
     *     variables, a refusal by the supervisor)
     */
    public static List<String> names() {
        return Given.LISTENERS.names();
    }

    /**
     * Tells the supervisor that this worker serves (READY=1 to NOTIFY_SOCKET). Does nothing when
     * NOTIFY_SOCKET is not set.
     *
     * @throws java.io.UncheckedIOException when the notification cannot be sent
     */
    public static void ready() {
        Given.NOTIFY.send(Wire.READY);
    }

    /**
     * Shows {@code text} as this worker's status (STATUS=... to NOTIFY_SOCKET; newlines become
     * spaces). Does nothing when NOTIFY_SOCKET is not set.
     *
     * @param text what this worker is doing, for {@code supervisor status}
     * @throws java.io.UncheckedIOException when the notification cannot be sent
     */
    public static void status(String text) {
        // A newline would start another KEY=value assignment.
        Given.NOTIFY.send(Wire.STATUS_PREFIX + text.replace('\n', ' '));
    }

    /**
     * Runs {@code action} once when this worker is told to drain: stop accepting, finish what is
     * in flight, then exit. The first call makes the drain signal (SIGTERM, or the one named by
     * SUPERVISOR_DRAIN_SIGNAL) start the drain instead of stopping the JVM, so the worker must exit
     * by itself once drained. Actions run in the order they were added, on the thread that
     * delivers the signal: keep them short, or hand the work to your own threads. An action
     * added after the drain started runs at once. Under a supervisor the first call also opens
     * the watch for its drain message and returns once the supervisor has taken it (at most 2 s),
     * so call it before {@link #ready()}.
     *
     * @param action what to do to drain: typically stop accepting and close idle connections
     * @throws IllegalStateException when SUPERVISOR_DRAIN_SIGNAL names a signal the JVM cannot
     *     handle
     */
    public static void onDrain(Runnable action) {
        Objects.requireNonNull(action, "action");
        if (DRAIN.listen(Given.ENV, Activation::drainNow)) {
            DrainWatch.start(Given.ENV, Activation::drainNow, DrainWatch.TAKEN_WITHIN);
        }
        DRAIN.add(action);
    }

    /**
     * Starts the drain: STOPPING=1 to NOTIFY_SOCKET, then every action, once. The signal handler
     * calls this; a drain message on SUPERVISOR_SOCKET will too.
     */
    static void drainNow() {
        DRAIN.start(() -> Given.NOTIFY.send(Wire.STOPPING));
    }

    private static <T extends Channel> T channel(String name, Class<T> kind) {
        Objects.requireNonNull(name, "name");
        Channel c = CHANNELS.computeIfAbsent(name, n -> {
            int fd = Given.LISTENERS.fdOf(n);
            return kind == ServerSocketChannel.class ? Channels.serverSocket(fd, n) : Channels.datagram(fd, n);
        });
        if (!kind.isInstance(c)) {
            // The fd was already wrapped as the other kind, so that is what it is.
            throw new IllegalStateException("listener '" + name + "' is " + (c instanceof DatagramChannel
                    ? "a UDP socket: use Activation.datagram(\"" + name + "\")"
                    : "a stream listener: use Activation.serverSocket(\"" + name + "\")"));
        }
        return kind.cast(c);
    }
}
