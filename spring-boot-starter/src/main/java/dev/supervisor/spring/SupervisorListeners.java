package dev.supervisor.spring;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.springframework.core.env.Environment;

import dev.supervisor.protocol.Wire;
import dev.supervisor.worker.Activation;

/**
 * Which of the process's inherited listeners the web server and the actuator serve on. The app
 * is socket-activated when supervisor (or systemd) handed it listeners; otherwise everything in
 * this starter stays out of the way.
 *
 * <p>The web server takes {@code supervisor.listener}, else the listener called {@code http}, else
 * the only one that is not the actuator's; the actuator ({@code management.server}) takes
 * {@code supervisor.management-listener} (default {@code management}) when a listener has that name.
 */
final class SupervisorListeners {
    static final String LISTENER = "supervisor.listener";
    static final String MANAGEMENT_LISTENER = "supervisor.management-listener";
    static final String DEFAULT_LISTENER = "http";
    static final String DEFAULT_MANAGEMENT_LISTENER = "management";

    private SupervisorListeners() {}

    /**
     * Whether this process was handed listeners. Reads only the environment unless one of the
     * hand-over variables is set, so an app outside supervisor loads nothing of the library.
     */
    static boolean activated() {
        Map<String, String> env = System.getenv();
        if (env.get(Wire.LISTEN_FDS) == null && env.get(Wire.SUPERVISOR_SOCKET) == null) {
            return false;
        }
        return !Activation.names().isEmpty();
    }

    /** The web server's listener. */
    static String web(Environment env) {
        List<String> names = Activation.names();
        String asked = env.getProperty(LISTENER);
        if (asked != null) {
            return require(asked, LISTENER, names);
        }
        if (names.contains(DEFAULT_LISTENER)) {
            return DEFAULT_LISTENER;
        }
        List<String> others = new ArrayList<>(names);
        others.remove(management(env));
        if (others.size() == 1) {
            return others.get(0);
        }
        throw new IllegalStateException("this app got the listeners " + names + " and none is called '" + DEFAULT_LISTENER
                + "': set " + LISTENER + " to the one the web server should serve on");
    }

    /** The actuator's listener, or null when there is none (the actuator then serves as configured). */
    static String management(Environment env) {
        List<String> names = Activation.names();
        String asked = env.getProperty(MANAGEMENT_LISTENER);
        if (asked != null) {
            return require(asked, MANAGEMENT_LISTENER, names);
        }
        return names.contains(DEFAULT_MANAGEMENT_LISTENER) ? DEFAULT_MANAGEMENT_LISTENER : null;
    }

    /** The listener as the JDK's channel, the same object on every call. */
    static ServerSocketChannel channel(String name) {
        return Activation.serverSocket(name);
    }

    /** The TCP port the listener is bound to; 0 for an AF_UNIX listener. */
    static int port(String name) {
        SocketAddress a;
        try {
            a = channel(name).getLocalAddress();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the address of listener '" + name + "'", e);
        }
        return a instanceof InetSocketAddress ? ((InetSocketAddress) a).getPort() : 0;
    }

    private static String require(String name, String property, List<String> names) {
        if (!names.contains(name)) {
            throw new IllegalStateException(property + "=" + name + " but this app got only the listeners " + names);
        }
        return name;
    }
}
