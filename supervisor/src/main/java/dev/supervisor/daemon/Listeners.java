package dev.supervisor.daemon;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;

/**
 * The supervisor's bound sockets, keyed by what they are bound to: a listener is its address,
 * whatever a config calls it or however it spells the address ({@code localhost:P} is
 * {@code 127.0.0.1:P}). Port 0 means "any free port", so such a listener is known by its name as
 * well. A socket is bound once, the first time a config names its address, and closed once no
 * live generation uses it and the current config no longer names it. A socket that a worker shut
 * down is retired: the generations holding it keep it, the next one gets a fresh socket on the
 * same address. Only the supervisor thread calls this.
 */
final class Listeners {
    private final Map<String, Listener.Socket> open = new LinkedHashMap<>();
    /** Shut-down sockets that generations still hold; closed when the last one has gone. */
    private final List<Listener.Socket> retired = new ArrayList<>();
    private final BiFunction<String, Address, Listener> binder;

    Listeners(BiFunction<String, Address, Listener> binder) {
        this.binder = binder;
    }

    /**
     * The listeners of {@code wanted}, in its order and under its names, binding the addresses not
     * open yet; each socket counts one more user. On a bind failure nothing is acquired and the
     * error is thrown.
     *
     * @throws ListenerException also when two names of {@code wanted} are one address
     */
    List<Listener> acquire(Map<String, Address> wanted) {
        List<Listener.Socket> fresh = new ArrayList<>();
        List<Listener.Socket> sockets = new ArrayList<>();
        Map<String, String> seen = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Address> e : wanted.entrySet()) {
                String other = seen.put(wantedKey(e.getKey(), e.getValue()), e.getKey());
                if (other != null) {
                    throw new ListenerException("listeners " + other + " and " + e.getKey() + " are the same address " + e.getValue()
                            + ": name it once", false);
                }
                Listener.Socket s = find(e.getKey(), e.getValue(), Listener.State.LISTENING);
                if (s == null) {
                    // A shut-down socket is replaced on the address it had, its port included.
                    Listener.Socket dead = find(e.getKey(), e.getValue(), Listener.State.SHUT_DOWN);
                    s = binder.apply(e.getKey(), dead == null ? e.getValue() : Address.parse(dead.bound)).socket;
                    if (dead != null) {
                        s = new Listener.Socket(e.getKey(), e.getValue(), s.fd, s.bound, s.inherited);
                    }
                    fresh.add(s);
                }
                sockets.add(s);
            }
        } catch (RuntimeException e) {
            fresh.forEach(Listener.Socket::close);
            throw e;
        }
        List<Listener> out = new ArrayList<>();
        int i = 0;
        for (String name : wanted.keySet()) {
            Listener.Socket s = sockets.get(i++);
            if (fresh.contains(s)) {
                Listener.Socket replaced = open.put(boundKey(s), s);
                if (replaced != null) {
                    retired.add(replaced); // shut down: the generations holding it keep it until they have gone
                }
            }
            s.users++;
            s.name = name;
            out.add(Listener.of(name, s));
        }
        return out;
    }

    /** One user fewer for each; closes those no one uses that {@code current} does not name. */
    List<Listener> release(List<Listener> used, Map<String, Address> current) {
        for (Listener l : used) {
            l.socket.users--;
        }
        Set<Listener.Socket> named = new HashSet<>();
        current.forEach((name, a) -> named.add(find(name, a, Listener.State.LISTENING)));
        List<Listener> closed = new ArrayList<>();
        for (Iterator<Listener.Socket> it = open.values().iterator(); it.hasNext(); ) {
            Listener.Socket s = it.next();
            if (s.users <= 0 && !named.contains(s)) {
                s.close();
                it.remove();
                closed.add(Listener.of(s.name, s));
            }
        }
        for (Iterator<Listener.Socket> it = retired.iterator(); it.hasNext(); ) {
            Listener.Socket s = it.next();
            if (s.users <= 0) {
                s.close();
                it.remove();
                closed.add(Listener.of(s.name, s));
            }
        }
        return closed;
    }

    /**
     * The open socket in {@code state} that {@code name=a} means: the one bound to that address;
     * for port 0 (any free port), the one this name was bound with.
     */
    private Listener.Socket find(String name, Address a, Listener.State state) {
        // A socket our parent passed us is matched by name, as it was taken (its address is systemd's).
        Listener.Socket s = open.values().stream().filter(x -> x.inherited && x.name.equals(name) && x.address.equals(a)).findFirst()
                .orElse(null);
        if (s != null) {
            return s.state != state ? null : s;
        }
        if (a.kind() != Address.Kind.UNIX && a.port() == 0) {
            s = open.values().stream().filter(x -> x.name.equals(name) && x.address.equals(a)).findFirst().orElse(null);
        } else {
            s = open.get(identity(a, a.port()));
        }
        return s == null || s.state != state ? null : s;
    }

    private static String wantedKey(String name, Address a) {
        return a.kind() != Address.Kind.UNIX && a.port() == 0 ? name + "=" + a : identity(a, a.port());
    }

    /** The identity of a bound socket, with the port the kernel gave it. */
    private static String boundKey(Listener.Socket s) {
        if (s.address.kind() == Address.Kind.UNIX) {
            return identity(s.address, 0);
        }
        return identity(s.address, Integer.parseInt(s.bound.substring(s.bound.lastIndexOf(':') + 1)));
    }

    /**
     * Stream sockets that stopped accepting since the last look (a worker called shutdown() on its
     * dup, which shuts the one socket down for every process): marked SHUT_DOWN and returned.
     */
    List<Listener> shutDown() {
        List<Listener> found = new ArrayList<>();
        for (Listener.Socket s : open.values()) {
            if (s.state == Listener.State.LISTENING && s.address.kind() != Address.Kind.UDP && !Sockets.accepting(s.fd)) {
                s.state = Listener.State.SHUT_DOWN;
                found.add(Listener.of(s.name, s));
            }
        }
        return found;
    }

    /** Every socket, each under its latest name: the open ones in bind order, then the retired. */
    List<Listener> all() {
        List<Listener> all = new ArrayList<>();
        open.values().forEach(s -> all.add(Listener.of(s.name, s)));
        retired.forEach(s -> all.add(Listener.of(s.name, s)));
        return all;
    }

    /** Every socket: the open ones in bind order, then the retired; for the upgrade state. */
    List<Listener.Socket> sockets() {
        List<Listener.Socket> all = new ArrayList<>(open.values());
        all.addAll(retired);
        return all;
    }

    boolean retired(Listener.Socket s) {
        return retired.contains(s);
    }

    /** A socket the previous image had open (see {@link #sockets}); its users are the generations that take it up. */
    void adopt(Listener.Socket s, boolean isRetired) {
        if (isRetired) {
            retired.add(s);
        } else {
            open.put(boundKey(s), s);
        }
    }

    /** {@code s} under {@code name} for a generation handed over: one more user. */
    static Listener use(String name, Listener.Socket s) {
        s.users++;
        return Listener.of(name, s);
    }

    void closeAll() {
        open.values().forEach(Listener.Socket::close);
        retired.forEach(Listener.Socket::close);
        open.clear();
        retired.clear();
    }

    /**
     * What a listener is bound to: the resolved address (a host name resolved as bind resolves
     * it) and {@code port}, or the absolute path of a unix socket.
     */
    static String identity(Address a, int port) {
        if (a.kind() == Address.Kind.UNIX) {
            return "unix:" + Path.of(a.path()).toAbsolutePath().normalize();
        }
        String host = "*";
        if (a.host() != null) {
            try {
                host = InetAddress.getByName(a.host()).getHostAddress();
            } catch (UnknownHostException e) {
                host = a.host(); // the bind will say what is wrong with it
            }
        }
        return a.kind() + "://" + host + ":" + port;
    }
}
