package dev.supervisor.protocol;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** What every fuzz target asks of a refusal: a message a user can act on. */
final class Fuzzing {
    private Fuzzing() {}

    static void assertClear(IllegalArgumentException e) {
        assertNotNull(e.getMessage(), "an IllegalArgumentException without a message");
        assertFalse(e.getMessage().isBlank(), "an IllegalArgumentException with a blank message");
    }
}
