package dev.supervisor.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * ListenFds.parse, branch for branch with sd_listen_fds_with_names(): each row is the
 * environment, and either the names it yields, null ("not for us", sd_listen_fds returns 0) or
 * the error it raises (sd_listen_fds returns -EINVAL).
 */
class ListenFdsTest {
    private static final long PID = 4242;

    static Stream<Arguments> table() {
        return Stream.of(
                // LISTEN_PID decides whether the rest is for this process at all.
                row("nothing set", env(), null),
                row("LISTEN_PID missing", env("LISTEN_FDS", "2", "LISTEN_FDNAMES", "a:b"), null),
                row("LISTEN_PID of another process", env("LISTEN_PID", "1", "LISTEN_FDS", "2"), null),
                row("LISTEN_PID not a number", env("LISTEN_PID", "self", "LISTEN_FDS", "2"),
                        error("LISTEN_PID=self is not a non-negative number")),
                row("LISTEN_PID negative", env("LISTEN_PID", "-1", "LISTEN_FDS", "2"),
                        error("LISTEN_PID=-1 is not a non-negative number")),
                // Then LISTEN_FDS.
                row("LISTEN_FDS missing", env("LISTEN_PID", "4242"), null),
                row("LISTEN_FDS not a number", env("LISTEN_PID", "4242", "LISTEN_FDS", "two"),
                        error("LISTEN_FDS=two is not a non-negative number")),
                row("LISTEN_FDS negative", env("LISTEN_PID", "4242", "LISTEN_FDS", "-2"),
                        error("LISTEN_FDS=-2 is not a non-negative number")),
                row("LISTEN_FDS past the last fd number", env("LISTEN_PID", "4242", "LISTEN_FDS", "2147483645"),
                        error("LISTEN_FDS=2147483645 is more fds than a process can hold (at most 1048576, the default fs.nr_open)")),
                // Found by ListenFdsFuzzTest: a count this large, without names, ran out of heap.
                row("LISTEN_FDS more than fs.nr_open", env("LISTEN_PID", "4242", "LISTEN_FDS", "1214748647"),
                        error("LISTEN_FDS=1214748647 is more fds than a process can hold (at most 1048576, the default fs.nr_open)")),
                row("LISTEN_FDS at fs.nr_open", env("LISTEN_PID", "4242", "LISTEN_FDS", "1048576"),
                        java.util.Collections.nCopies(1048576, "unknown")),
                // sd_listen_fds() calls 0 invalid; we read it as "no listeners", which is what
                // ListenFds.environment(List.of()) writes.
                row("zero fds", env("LISTEN_PID", "4242", "LISTEN_FDS", "0"), List.of()),
                row("zero fds, empty names", env("LISTEN_PID", "4242", "LISTEN_FDS", "0", "LISTEN_FDNAMES", ""), List.of()),
                // Then the names.
                row("names", env("LISTEN_PID", "4242", "LISTEN_FDS", "2", "LISTEN_FDNAMES", "http:dns"), List.of("http", "dns")),
                row("surrounding blanks in the numbers", env("LISTEN_PID", " 4242", "LISTEN_FDS", "1 ", "LISTEN_FDNAMES", "http"),
                        List.of("http")),
                row("no names: every fd is 'unknown'", env("LISTEN_PID", "4242", "LISTEN_FDS", "2"), List.of("unknown", "unknown")),
                row("empty names: as no names", env("LISTEN_PID", "4242", "LISTEN_FDS", "2", "LISTEN_FDNAMES", ""),
                        List.of("unknown", "unknown")),
                row("an empty name between two is kept", env("LISTEN_PID", "4242", "LISTEN_FDS", "3", "LISTEN_FDNAMES", "a::b"),
                        List.of("a", "", "b")),
                row("fewer names than fds", env("LISTEN_PID", "4242", "LISTEN_FDS", "3", "LISTEN_FDNAMES", "a:b"),
                        error("LISTEN_FDNAMES has 2 names, LISTEN_FDS says 3")),
                row("more names than fds", env("LISTEN_PID", "4242", "LISTEN_FDS", "1", "LISTEN_FDNAMES", "a:b"),
                        error("LISTEN_FDNAMES has 2 names, LISTEN_FDS says 1")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table")
    void parse(String branch, Map<String, String> env, Object expected) {
        if (expected instanceof Failure) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ListenFds.parse(env, PID));
            assertEquals(((Failure) expected).message, e.getMessage());
            return;
        }
        ListenFds parsed = ListenFds.parse(env, PID);
        if (expected == null) {
            assertNull(parsed);
            return;
        }
        assertEquals(expected, parsed.names());
        assertEquals(parsed.names().size(), parsed.count());
    }

    @Test
    void fdsStartAtThreeInNameOrder() {
        ListenFds fds = ListenFds.parse(env("LISTEN_PID", "4242", "LISTEN_FDS", "2", "LISTEN_FDNAMES", "http:dns"), PID);
        assertEquals(3, fds.fdOf("http"));
        assertEquals(4, fds.fdOf("dns"));
        assertEquals(-1, fds.fdOf("web"));
    }

    @Test
    void environmentRoundTrips() {
        Map<String, String> env = new HashMap<>(ListenFds.environment(List.of("http", "dns")));
        assertEquals(Map.of("LISTEN_FDS", "2", "LISTEN_FDNAMES", "http:dns"), env);
        env.put(Wire.LISTEN_PID, Long.toString(PID));
        assertEquals(List.of("http", "dns"), ListenFds.parse(env, PID).names());
    }

    @Test
    void environmentRefusesANameLISTEN_FDNAMESCannotCarry() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ListenFds.environment(List.of("a:b")));
        assertEquals("bad listener name 'a:b': expected " + Wire.NAME_PATTERN, e.getMessage());
    }

    private static Arguments row(String branch, Map<String, String> env, Object expected) {
        return Arguments.of(branch, env, expected);
    }

    private static Map<String, String> env(String... pairs) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            m.put(pairs[i], pairs[i + 1]);
        }
        return m;
    }

    private static Failure error(String message) {
        return new Failure(message);
    }

    /** An expected IllegalArgumentException message. */
    private static final class Failure {
        final String message;

        Failure(String message) {
            this.message = message;
        }

        @Override
        public String toString() {
            return "error: " + message;
        }
    }
}
