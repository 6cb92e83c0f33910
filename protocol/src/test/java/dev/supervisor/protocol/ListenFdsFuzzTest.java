package dev.supervisor.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * {@link ListenFds#parse} on any environment: the input is lines of NAME=VALUE (a corpus file
 * reads like {@code env}), our own pid is {@value #OWN_PID}. A malformed hand-over must be an
 * {@link IllegalArgumentException} with a message; a parsed one must be consistent.
 * Saved inputs: src/test/resources/dev/supervisor/protocol/ListenFdsFuzzTestInputs/parse/.
 */
class ListenFdsFuzzTest {
    static final long OWN_PID = 4242;

    @DictionaryEntries({"LISTEN_PID=4242", "LISTEN_FDS=", "LISTEN_FDNAMES=", ":", "-1", "+1", " ", "2147483647", "9223372036854775807"})
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] input) {
        Map<String, String> env = new LinkedHashMap<>();
        for (String line : new String(input, StandardCharsets.UTF_8).split("\n", -1)) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                env.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        ListenFds fds;
        try {
            fds = ListenFds.parse(env, OWN_PID);
        } catch (IllegalArgumentException e) {
            Fuzzing.assertClear(e);
            return;
        }
        if (fds == null) {
            return;
        }
        assertEquals(fds.count(), fds.names().size());
        assertTrue(fds.count() >= 0);
        if (fds.count() > 0) {
            assertEquals(Wire.LISTEN_FDS_START, fds.fdOf(fds.names().get(0)));
        }
    }
}
