package dev.supervisor.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import dev.supervisor.protocol.Wire;
import dev.supervisor.testing.RawSockets;

class DrainTest {

    @Test
    void startsOnceFirstThenActionsInOrder() {
        List<String> ran = new CopyOnWriteArrayList<>();
        Drain drain = new Drain();
        drain.add(() -> ran.add("a"));
        drain.add(() -> ran.add("b"));
        drain.start(() -> ran.add("stopping"));
        drain.start(() -> ran.add("stopping again"));
        assertEquals(List.of("stopping", "a", "b"), ran);
    }

    @Test
    void actionAddedAfterTheStartRunsAtOnce() {
        List<String> ran = new CopyOnWriteArrayList<>();
        Drain drain = new Drain();
        drain.start(() -> {});
        drain.add(() -> ran.add("late"));
        assertEquals(List.of("late"), ran);
    }

    @Test
    void failingActionDoesNotStopTheOthers() {
        List<String> ran = new CopyOnWriteArrayList<>();
        List<Throwable> reported = new CopyOnWriteArrayList<>();
        Thread t = Thread.currentThread();
        Thread.UncaughtExceptionHandler before = t.getUncaughtExceptionHandler();
        t.setUncaughtExceptionHandler((thread, e) -> reported.add(e));
        try {
            Drain drain = new Drain();
            drain.add(() -> {
                throw new IllegalStateException("boom");
            });
            drain.add(() -> ran.add("second"));
            drain.start(() -> {});
        } finally {
            t.setUncaughtExceptionHandler(before);
        }
        assertEquals(List.of("second"), ran);
        assertEquals("boom", reported.get(0).getMessage());
    }

    @Test
    void signalNames() {
        assertEquals("TERM", Drain.signalName(Map.of()));
        assertEquals("USR1", Drain.signalName(Map.of(Wire.SUPERVISOR_DRAIN_SIGNAL, "USR1")));
        assertEquals("USR1", Drain.signalName(Map.of(Wire.SUPERVISOR_DRAIN_SIGNAL, " sigusr1 ")));
        assertEquals("SUPERVISOR_DRAIN_SIGNAL=15: expected a signal name such as TERM or USR1",
                assertThrows(IllegalStateException.class, () -> Drain.signalName(Map.of(Wire.SUPERVISOR_DRAIN_SIGNAL, "15")))
                        .getMessage());
    }

    @Test
    void signalTheJvmKeepsForItselfIsRefused() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> new Drain().listen(Map.of(Wire.SUPERVISOR_DRAIN_SIGNAL, "QUIT"), () -> {}));
        assertTrue(e.getMessage().startsWith("SUPERVISOR_DRAIN_SIGNAL=QUIT: a JVM cannot handle SIGQUIT ("), e.getMessage());
        assertTrue(e.getMessage().endsWith("); use TERM, HUP, INT, USR1 or USR2"), e.getMessage());
    }

    @Test
    void drainSignalStartsTheDrain() throws InterruptedException {
        CountDownLatch drained = new CountDownLatch(1);
        Drain drain = new Drain();
        drain.add(drained::countDown);
        drain.listen(Map.of(Wire.SUPERVISOR_DRAIN_SIGNAL, "USR1"), () -> drain.start(() -> {}));
        assertEquals(0, RawSockets.calls().kill(RawSockets.calls().getpid(), RawSockets.SIGUSR1));
        assertTrue(drained.await(10, TimeUnit.SECONDS), "SIGUSR1 ran the drain action");
    }
}
