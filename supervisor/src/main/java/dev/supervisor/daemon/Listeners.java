package dev.supervisor.daemon;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * The supervisor's bound sockets, keyed by name and address. A listener is bound once, the first
 * time a config names it, and closed once no live generation uses it and the current config no
 * longer names it. Only the supervisor thread calls this.
 */
final class Listeners {
    private final Map<String, Listener> open = new LinkedHashMap<>();
    private final BiFunction<String, Address, Listener> binder;

    Listeners(BiFunction<String, Address, Listener> binder) {
        this.binder = binder;
    }

    /**
     * The listeners of {@code wanted}, in its order, binding the ones not open yet; each counts
     * one more user. On a bind failure nothing is acquired and the error is thrown.
     */
    List<Listener> acquire(Map<String, Address> wanted) {
        List<Listener> fresh = new ArrayList<>();
        List<Listener> out = new ArrayList<>();
        try {
            for (Map.Entry<String, Address> e : wanted.entrySet()) {
                String key = key(e.getKey(), e.getValue());
                Listener l = open.get(key);
                if (l == null) {
                    l = binder.apply(e.getKey(), e.getValue());
                    fresh.add(l);
                }
                out.add(l);
            }
        } catch (RuntimeException e) {
            fresh.forEach(Listener::close);
            throw e;
        }
        for (Listener l : out) {
            open.putIfAbsent(key(l.name(), l.address()), l);
            l.users++;
        }
        return out;
    }

    /** A listener the previous supervisor image bound, taken as open; users are counted by {@link #use}. */
    void adopt(Listener l) {
        open.put(key(l.name(), l.address()), l);
    }

    /** The open listener of {@code key} ("name=address"), one more user; null when there is none. */
    Listener use(String key) {
        Listener l = open.get(key);
        if (l != null) {
            l.users++;
        }
        return l;
    }

    /** One user fewer for each; closes those no one uses that {@code current} does not name. */
    List<Listener> release(List<Listener> used, Map<String, Address> current) {
        for (Listener l : used) {
            l.users--;
        }
        List<Listener> closed = new ArrayList<>();
        for (Iterator<Listener> it = open.values().iterator(); it.hasNext(); ) {
            Listener l = it.next();
            if (l.users <= 0 && !l.address().equals(current.get(l.name()))) {
                l.close();
                it.remove();
                closed.add(l);
            }
        }
        return closed;
    }

    Collection<Listener> all() {
        return open.values();
    }

    void closeAll() {
        open.values().forEach(Listener::close);
        open.clear();
    }

    static String key(String name, Address a) {
        return name + "=" + a;
    }
}
