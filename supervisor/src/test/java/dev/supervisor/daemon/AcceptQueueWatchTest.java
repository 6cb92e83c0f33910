package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.Set;

import org.junit.jupiter.api.Test;

class AcceptQueueWatchTest {
    private static final long S = 1_000_000_000L;
    private final AcceptQueueWatch watch = new AcceptQueueWatch();

    private String sample(int length, long seconds) {
        return watch.sample("web", length, 100, seconds * S, () -> "not accepted by generation 2 (ready)");
    }

    @Test
    void warnsOnceWhenTheQueueStaysAboveHalfWithoutShrinkingForThreeSeconds() {
        assertNull(sample(50, 0), "half is not above half");
        assertNull(sample(51, 1));
        assertNull(sample(60, 2));
        assertNull(sample(60, 3));
        assertEquals("listener web: accept queue above half its limit (61 of 100) for 3s without shrinking; not accepted by generation 2 (ready)",
                sample(61, 4));
        assertNull(sample(70, 5), "once per episode");
        assertNull(sample(10, 6), "below half ends the episode");
        assertNull(sample(80, 7));
        assertNull(sample(80, 9));
        assertEquals("listener web: accept queue above half its limit (80 of 100) for 3s without shrinking; not accepted by generation 2 (ready)",
                sample(80, 10));
    }

    @Test
    void aQueueThatShrinksIsBeingAcceptedFrom() {
        assertNull(sample(90, 0));
        assertNull(sample(89, 2));
        assertNull(sample(95, 4));
        assertNull(sample(95, 4), "3 s since it last shrank have not passed");
        assertEquals(null, sample(94, 6), "shrank again");
        watch.retain(Set.of());
        assertNull(sample(95, 8), "a forgotten listener starts over");
    }
}
