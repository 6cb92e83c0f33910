package dev.supervisor.daemon.upgrade;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

/** The document that crosses an upgrade's exec: it round-trips, and a format this build does not know is refused by name. */
class StateFileTest {
    @Test
    void aDocumentRoundTripsThroughAMemfd() throws Exception {
        State s = new State();
        s.version = "1.2.3";
        s.upgrades = 4;
        s.config = "{\"workers\": 2}".getBytes(StandardCharsets.UTF_8);
        State.GenerationState g = new State.GenerationState();
        g.number = 7;
        g.state = "READY";
        g.restartDueNanos = new long[] {0, 42};
        State.WorkerState w = new State.WorkerState();
        w.pid = 1234;
        w.status = "serving ü";
        g.workers.add(w);
        s.generations.add(g);
        State.ConnectionState c = new State.ConnectionState();
        c.inFlight.add("{\"v\":1,\"cmd\":\"status\"}");
        c.unread = new byte[] {'{', (byte) 0xff};
        s.control.connections.add(c);

        State back = StateFile.fromFd(StateFile.toMemfd(s));
        assertEquals(State.FORMAT, back.format);
        assertEquals("1.2.3", back.version);
        assertEquals(4, back.upgrades);
        assertArrayEquals(s.config, back.config);
        assertEquals(7, back.generations.get(0).number);
        assertArrayEquals(new long[] {0, 42}, back.generations.get(0).restartDueNanos);
        assertEquals("serving ü", back.generations.get(0).workers.get(0).status);
        assertEquals(c.inFlight, back.control.connections.get(0).inFlight);
        assertArrayEquals(c.unread, back.control.connections.get(0).unread);
    }

    @Test
    void anUnknownFormatIsRefusedNamingBoth() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> StateFile.fromBytes("{\"format\": 99}".getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains("format 99") && e.getMessage().contains("format " + State.FORMAT), e.getMessage());
    }

    @Test
    void garbageAndAMissingFormatAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> StateFile.fromBytes("not json".getBytes(StandardCharsets.UTF_8)));
        assertThrows(IllegalArgumentException.class, () -> StateFile.fromBytes("{}".getBytes(StandardCharsets.UTF_8)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> StateFile.fromBytes(("{\"format\": " + State.FORMAT + ", \"surprise\": 1}").getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains("malformed"), e.getMessage());
    }
}
