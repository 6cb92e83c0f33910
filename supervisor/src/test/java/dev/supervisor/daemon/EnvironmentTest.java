package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

/** {@link Environment}: entries kept as bytes, names matched, values appended without decoding. */
class EnvironmentTest {
    private static byte[] b(String latin1) {
        return latin1.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static List<String> latin1(Environment e) {
        return e.entries().stream().map(x -> new String(x, StandardCharsets.ISO_8859_1)).toList();
    }

    @Test
    void bytesThatAreNotUtf8StayAsTheyAre() {
        // A name that is not UTF-8 (the JVM's System.getenv() drops it) and a value that is not either.
        byte[] raw = b("N\u00ffAME=1\u0000GREETING=Z\u00fcrich\u0000LISTEN_FDS=9\u0000JDK_JAVA_OPTIONS=-Dx=\u00e9\u0000");
        Environment own = Environment.ofEntries(Environment.splitNul(raw));
        Environment worker = own.without(List.of("LISTEN_FDS")).with(Map.of("LISTEN_FDS", "1"))
                .appending("JDK_JAVA_OPTIONS", "--add-opens=x");
        assertEquals(List.of("N\u00ffAME=1", "GREETING=Z\u00fcrich", "LISTEN_FDS=1", "JDK_JAVA_OPTIONS=-Dx=\u00e9 --add-opens=x"),
                latin1(worker));
        assertArrayEquals(b("Z\u00fcrich"), worker.value("GREETING"));
    }
}
