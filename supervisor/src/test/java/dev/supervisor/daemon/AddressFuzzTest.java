package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.nio.charset.StandardCharsets;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * {@link Address#parse} on any text: a bad address is an {@link IllegalArgumentException} with a
 * message; a good one prints (as status shows it) to a text that parses back to the same address.
 * Saved inputs: src/test/resources/dev/supervisor/daemon/AddressFuzzTestInputs/parse/.
 */
class AddressFuzzTest {
    @DictionaryEntries({"tcp://", "udp://", "unix:", "unix://", "[", "]", ":", "::1", "127.0.0.1", "65535", "65536", "@"})
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] input) {
        String text = new String(input, StandardCharsets.UTF_8);
        Address a;
        try {
            a = Address.parse(text);
        } catch (IllegalArgumentException e) {
            assertNotNull(e.getMessage());
            assertFalse(e.getMessage().isBlank());
            return;
        }
        assertEquals(a, Address.parse(a.toString()), "'" + text + "' printed as '" + a + "' does not parse back");
    }
}
