package dev.supervisor.daemon.upgrade;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.supervisor.protocol.Message;

/** The document one image writes and the next reads: every field survives, an unknown format is refused first. */
class StateTest {
    static State sample() {
        State s = new State();
        s.version = "1.2.3";
        s.monotonicNanos = 123_456_789_000L;
        s.startedAgeNanos = 5_000_000_000L;
        s.upgrades = 3;
        s.lastGeneration = 7;
        s.serving = 7;
        s.config = "{\"listen\":[\"web=tcp://127.0.0.1:0\"],\"command\":[\"w\"]}";
        s.pendingReload = true;
        s.reloadsOk = 6;
        s.reloadsFailed = 1;
        State.ListenerState l = new State.ListenerState();
        l.name = "web";
        l.address = "tcp://127.0.0.1:0";
        l.fd = 9;
        l.bound = "tcp://127.0.0.1:4711";
        l.inherited = true;
        s.listeners.add(l);
        State.GenerationState g = new State.GenerationState();
        g.number = 6;
        g.state = "DRAINING";
        g.config = s.config;
        g.listeners.add("web=tcp://127.0.0.1:0");
        g.startedAgeNanos = 40;
        g.requestedAgeNanos = 41;
        g.readyAgeNanos = 30;
        g.overheadNanos = 1234;
        g.drainRemainingNanos = 2_000_000_000L;
        State.WorkerState w = new State.WorkerState();
        w.slot = 1;
        w.pid = 4242;
        w.current = true;
        w.state = "DRAINING";
        w.startedAgeNanos = 39;
        w.readyAgeNanos = 31;
        w.restarts = 2;
        w.status = "warm";
        w.stopping = true;
        w.backoffMillis = 400;
        w.stdoutFd = 11;
        w.stderrFd = 12;
        w.stderrTail = List.of("a", "b");
        g.workers.add(w);
        State.RestartState r = new State.RestartState();
        r.slot = 0;
        r.remainingNanos = 99;
        r.backoffMillis = 200;
        g.restarts.add(r);
        s.generations.add(g);
        s.control.serverFd = 5;
        s.control.notifyFd = 6;
        State.ConnectionState c = new State.ConnectionState();
        c.fd = 14;
        c.pid = 99;
        c.controls = true;
        c.inFlight = List.of("upgrade", "status");
        c.unread = "eyJ2Ijox";
        s.control.connections.add(c);
        return s;
    }

    @Test
    void everyFieldSurvivesTheRoundTrip() throws Exception {
        byte[] written = StateWriter.toBytes(sample());
        State back = StateReader.fromBytes(written);
        assertEquals(State.FORMAT, back.format);
        assertEquals(Message.json().readTree(written), Message.json().readTree(StateWriter.toBytes(back)));
        assertEquals(4242, back.generations.get(0).workers.get(0).pid);
        assertEquals(List.of("upgrade", "status"), back.control.connections.get(0).inFlight);
    }

    @Test
    void anUnknownFormatIsRefusedNamingBoth() {
        String text = new String(StateWriter.toBytes(sample()), StandardCharsets.UTF_8).replace("\"format\":1", "\"format\":2");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> StateReader.fromBytes(text.getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().contains("format 2") && e.getMessage().contains("reads format 1"), e.getMessage());
        assertTrue(StateReader.reads(State.FORMAT));
        assertTrue(!StateReader.reads(State.FORMAT + 1));
    }

    @Test
    void malformedDocumentsAreRefused() {
        for (String bad : List.of("not json", "[]", "{}", "{\"format\":\"1\"}", "{\"format\":1,\"surprise\":true}")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> StateReader.fromBytes(bad.getBytes(StandardCharsets.UTF_8)), bad);
            assertTrue(e.getMessage().startsWith("the upgrade state"), e.getMessage());
        }
    }
}
