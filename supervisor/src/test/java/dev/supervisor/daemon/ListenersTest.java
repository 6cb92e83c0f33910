package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.supervisor.protocol.Libc;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A listener is its bound address: names and spellings change, the socket stays; a shut-down one is replaced. */
class ListenersTest {
    private final List<String> binds = new ArrayList<>();
    private final Listeners listeners = new Listeners((name, a) -> {
        binds.add(name + "=" + a);
        return Sockets.bind(name, a);
    });

    @AfterEach
    void close() {
        listeners.closeAll();
    }

    private static Map<String, Address> config(String... nameAddress) {
        Map<String, Address> m = new LinkedHashMap<>();
        for (String s : nameAddress) {
            int eq = s.indexOf('=');
            m.put(s.substring(0, eq), Address.parse(s.substring(eq + 1)));
        }
        return m;
    }

    private static int port(Listener l) {
        return Integer.parseInt(l.bound().substring(l.bound().lastIndexOf(':') + 1));
    }

    @Test
    void renameSwapAndRespellKeepTheSocketsUnderTheirNewNames() {
        List<Listener> first = listeners.acquire(config("web=127.0.0.1:0", "api=127.0.0.1:0"));
        int web = port(first.get(0));
        int api = port(first.get(1));

        List<Listener> renamed = listeners.acquire(config("http=127.0.0.1:" + web, "api=127.0.0.1:" + api));
        assertEquals("http", renamed.get(0).name());
        assertSame(first.get(0).socket, renamed.get(0).socket);

        List<Listener> swapped = listeners.acquire(config("api=127.0.0.1:" + web, "http=127.0.0.1:" + api));
        assertSame(first.get(0).socket, swapped.get(0).socket);
        assertSame(first.get(1).socket, swapped.get(1).socket);
        assertEquals("api", swapped.get(0).name());

        List<Listener> respelled = listeners.acquire(config("api=localhost:" + web, "http=tcp://127.0.0.1:" + api));
        assertSame(first.get(0).socket, respelled.get(0).socket);
        assertSame(first.get(1).socket, respelled.get(1).socket);
        assertEquals(List.of("web=tcp://127.0.0.1:0", "api=tcp://127.0.0.1:0"), binds, "bound once each");

        // The generations go one by one; while the last one holds the sockets, nothing closes.
        Map<String, Address> current = config("api=localhost:" + web, "http=tcp://127.0.0.1:" + api);
        assertEquals(List.of(), listeners.release(first, current));
        assertEquals(List.of(), listeners.release(renamed, current));
        assertEquals(List.of(), listeners.release(swapped, current));
        assertTrue(respelled.get(0).isOpen());
        assertEquals(List.of("api", "http"), listeners.all().stream().map(Listener::name).toList());
    }

    @Test
    void twoNamesForOneAddressAreRefused() {
        List<Listener> first = listeners.acquire(config("web=127.0.0.1:0"));
        int web = port(first.get(0));
        ListenerException e = assertThrows(ListenerException.class,
                () -> listeners.acquire(config("a=127.0.0.1:" + web, "b=localhost:" + web)));
        assertTrue(e.getMessage().contains("listeners a and b are the same address"), e.getMessage());
    }

    @Test
    void portZeroIsKnownByItsNameToo() {
        List<Listener> first = listeners.acquire(config("web=127.0.0.1:0"));
        assertSame(first.get(0).socket, listeners.acquire(config("web=127.0.0.1:0")).get(0).socket);
        assertFalse(first.get(0).socket == listeners.acquire(config("http=127.0.0.1:0")).get(0).socket);
    }

    @Test
    void aSocketAWorkerShutDownIsRetiredAndTheNextAcquireBindsAFreshOneOnTheSamePort() {
        List<Listener> first = listeners.acquire(config("web=127.0.0.1:0"));
        assertEquals(List.of(), listeners.shutDown());
        Libc.daemon().shutdown(first.get(0).fd(), 0); // SHUT_RD, as a worker would on its dup

        List<Listener> dead = listeners.shutDown();
        assertEquals(1, dead.size());
        assertEquals(Listener.State.SHUT_DOWN, dead.get(0).state());
        assertEquals(List.of(), listeners.shutDown(), "reported once");

        int web = port(first.get(0));
        Map<String, Address> next = config("web=127.0.0.1:0"); // any port the first time; the same port now
        List<Listener> second = listeners.acquire(next);
        assertFalse(first.get(0).socket == second.get(0).socket);
        assertEquals(web, port(second.get(0)));
        assertTrue(Sockets.accepting(second.get(0).fd()));
        assertEquals(List.of("LISTENING", "SHUT_DOWN"), listeners.all().stream().map(l -> l.state().name()).toList());

        List<Listener> closed = listeners.release(first, next);
        assertEquals(1, closed.size(), "the dead socket closes with its last generation");
        assertFalse(first.get(0).isOpen());
        assertTrue(second.get(0).isOpen());
    }
}
