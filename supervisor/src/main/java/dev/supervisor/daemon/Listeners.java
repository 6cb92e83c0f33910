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
        Map<String, String> seen = new LinkedHashMap<>(); // identity -> name, in wanted's order
        try {
            for (Map.Entry<String, Address> e : wanted.entrySet()) {
                String id = identity(e.getKey(), e.getValue());
                String other = seen.put(id, e.getKey());
                if (other != null) {
                    throw new ListenerException("listeners " + other + " and " + e.getKey() + " are the same address " + e.getValue()
                            + ": name it once", false);
                }
                Listener.Socket s = open.get(id);
                if (s == null || s.state == Listener.State.SHUT_DOWN) {
                    s = binder.apply(e.getKey(), e.getValue()).socket;
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
        for (Map.Entry<String, String> e : seen.entrySet()) {
            Listener.Socket s = sockets.get(i++);
            Listener.Socket replaced = open.put(e.getKey(), s);
            if (replaced != null && replaced != s) {
                retired.add(replaced); // shut down: the generations holding it keep it until they have gone
            }
            s.users++;
            s.name = e.getValue();
            out.add(Listener.of(e.getValue(), s));
        }
        return out;
    }

    /** One user fewer for each; closes those no one uses that {@code current} does not name. */
    List<Listener> release(List<Listener> used, Map<String, Address> current) {
        for (Listener l : used) {
            l.socket.users--;
        }
        Set<String> named = new HashSet<>();
        current.forEach((name, a) -> named.add(identity(name, a)));
        List<Listener> closed = new ArrayList<>();
        for (Iterator<Map.Entry<String, Listener.Socket>> it = open.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Listener.Socket> e = it.next();
            Listener.Socket s = e.getValue();
            if (s.users <= 0 && !named.contains(e.getKey())) {
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

    void closeAll() {
        open.values().forEach(Listener.Socket::close);
        retired.forEach(Listener.Socket::close);
        open.clear();
        retired.clear();
    }

    /**
     * What a listener is bound to: the resolved address and port (a host name is resolved as
     * bind resolves it), the absolute path of a unix socket; with port 0, also its name.
     */
    static String identity(String name, Address a) {
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
        String id = a.kind() + "://" + host + ":" + a.port();
        return a.port() == 0 ? name + "=" + id : id;
    }
}
