package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.supervisor.protocol.Message;

/** The peer check, the dispatch and the watch registry, without a socket. */
class ControlRequestsTest {
    private static final int OWN = 1000, WORKERS = 2000;

    private final FakeControl supervisor = new FakeControl();
    private final List<String> log = new ArrayList<>();
    private final ControlRequests requests = new ControlRequests(supervisor, OWN, WORKERS, log::add);

    /** One connection: what it was answered, with which fds, and whether it was closed. */
    private static final class Client implements ControlRequests.Client {
        final int pid;
        final ControlRequests.Access access;
        final List<ObjectNode> answers = new ArrayList<>();
        int[] fds;
        boolean closed;
        boolean watching;
        int awaiting;

        Client(int pid, ControlRequests.Access access) {
            this.pid = pid;
            this.access = access;
        }

        @Override
        public int pid() {
            return pid;
        }

        @Override
        public ControlRequests.Access access() {
            return access;
        }

        @Override
        public void answer(ObjectNode answer, boolean close) {
            answers.add(answer);
            closed |= close;
        }

        @Override
        public void answerWithFds(ObjectNode answer, int[] fds) {
            answers.add(answer);
            this.fds = fds;
        }

        @Override
        public Consumer<Runnable> awaitSupervisor() {
            awaiting++;
            return r -> {
                awaiting--;
                r.run();
            };
        }

        @Override
        public void watching() {
            watching = true;
        }

        ObjectNode last() {
            return answers.get(answers.size() - 1);
        }
    }

    private Client control() {
        return new Client(1234, ControlRequests.Access.CONTROL);
    }

    @Test
    void ourUidAndRootControlTheWorkersUidMayAskForListenersAndOthersAreRefused() {
        assertEquals(ControlRequests.Access.CONTROL, requests.access(OWN));
        assertEquals(ControlRequests.Access.CONTROL, requests.access(0));
        assertEquals(ControlRequests.Access.WORKER, requests.access(WORKERS));
        assertEquals(ControlRequests.Access.REFUSED, requests.access(3000));
        ControlRequests noUser = new ControlRequests(supervisor, OWN, -1, log::add);
        assertEquals(ControlRequests.Access.REFUSED, noUser.access(WORKERS));
        assertTrue(requests.refuse(7, 3000).path(Message.ERROR).asText().contains("uid 3000 may not control"));
        assertTrue(log.get(0).contains("refused pid 7 of uid 3000"), log.toString());
    }

    @Test
    void aMalformedLineIsAnsweredWithAnErrorAndTheConnectionStays() {
        Client c = control();
        requests.handle(c, "{not json");
        assertFalse(c.last().path(Message.OK).asBoolean());
        assertFalse(c.closed);
        requests.handle(c, Message.request(Message.STATUS));
        assertTrue(c.last().path(Message.OK).asBoolean());
        assertEquals(1, c.last().path(Message.STATUS).path("n").asInt());
        assertEquals(0, c.awaiting);
    }

    @Test
    void theWorkersUidMayNotReloadStopOrAskForStatus() {
        for (String cmd : List.of(Message.RELOAD, Message.STOP, Message.STATUS)) {
            Client c = new Client(55, ControlRequests.Access.WORKER);
            requests.handle(c, Message.request(cmd));
            assertTrue(c.last().path(Message.ERROR).asText().contains("may not " + cmd), c.last().toString());
            assertTrue(c.closed);
        }
        assertEquals(0, supervisor.stops.get());
        assertEquals(0, supervisor.statusCalls.get());
    }

    @Test
    void aFailedReloadIsAnsweredWithItsErrorAndTheWorkersLastWords() {
        supervisor.reload = ReloadResult.failed(3, "worker exited", List.of("boom"));
        Client c = control();
        requests.handle(c, Message.request(Message.RELOAD));
        assertFalse(c.last().path(Message.OK).asBoolean());
        assertEquals("worker exited", c.last().path(Message.ERROR).asText());
        assertEquals("boom", c.last().path("stderr").get(0).asText());
    }

    @Test
    void listenersGoOnlyToACurrentWorkerWithTheCopiesTheSupervisorMade() {
        Client stranger = new Client(77, ControlRequests.Access.WORKER);
        requests.handle(stranger, Message.request(Message.LISTENERS));
        assertTrue(stranger.last().path(Message.ERROR).asText().contains("not a current worker"));
        assertTrue(stranger.closed);
        assertEquals(null, stranger.fds);

        supervisor.grant = FakeControl.worker(50, 11, 12);
        Client worker = new Client(50, ControlRequests.Access.WORKER);
        requests.handle(worker, Message.request(Message.LISTENERS));
        assertEquals("web", worker.last().path(Message.NAMES).get(0).asText());
        assertArrayEquals(new int[] {11, 12}, worker.fds);

        supervisor.grant = new Control.Grant(50, List.of("web"), new int[0], "fcntl(5, F_DUPFD_CLOEXEC) failed: EMFILE");
        Client full = new Client(50, ControlRequests.Access.WORKER);
        requests.handle(full, Message.request(Message.LISTENERS));
        assertTrue(full.last().path(Message.ERROR).asText().contains("EMFILE"));
        assertEquals(null, full.fds);
    }

    @Test
    void aWatchOfAWorkersDescendantIsFiledUnderTheWorkerAndGetsItsDrainEvent() {
        supervisor.grant = FakeControl.worker(50);
        Client jvm = new Client(51, ControlRequests.Access.WORKER); // a launcher's JVM, child of worker 50
        requests.handle(jvm, Message.request(Message.WATCH));
        requests.handle(jvm, Message.request(Message.WATCH)); // a second watch changes nothing
        assertTrue(jvm.watching);
        assertEquals(1, requests.watching());
        requests.drained(51);
        assertEquals(2, jvm.answers.size(), "no event for a pid that is not the worker's");
        requests.drained(50);
        assertEquals(Message.DRAIN, jvm.last().path(Message.EVENT).asText());
        assertTrue(jvm.closed);
        assertEquals(0, requests.watching());
    }

    @Test
    void aClosedWatchConnectionIsForgotten() {
        supervisor.grant = FakeControl.worker(50);
        Client a = new Client(51, ControlRequests.Access.WORKER);
        Client b = new Client(52, ControlRequests.Access.WORKER);
        requests.handle(a, Message.request(Message.WATCH));
        requests.handle(b, Message.request(Message.WATCH));
        requests.closed(a);
        requests.drained(50);
        assertEquals(1, a.answers.size());
        assertEquals(Message.DRAIN, b.last().path(Message.EVENT).asText());
    }

    @Test
    void stopIsAnsweredAtOnce() {
        Client c = control();
        requests.handle(c, Message.request(Message.STOP));
        assertTrue(c.last().path(Message.OK).asBoolean());
        assertEquals(1, supervisor.stops.get());
    }
}
