package dev.supervisor.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link Message#parseRequest}: each request, and the lines that are none. */
class MessageTest {
    @ParameterizedTest
    @ValueSource(strings = {"status", "reload", "stop", "listeners", "watch"})
    void everyCommand(String cmd) {
        assertEquals(cmd, Message.parseRequest("{\"v\":1,\"cmd\":\"" + cmd + "\"}"));
        assertEquals(cmd, Message.parseRequest(Message.request(cmd)));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        // Found by ControlSocketAbuseIT: Jackson took the last of two "cmd" fields and ignored what
        // followed the object, so this malformed line stopped the supervisor.
        "{\"v\":1,\"cmd\":\"status\",\"cmd\":\"stop\"} ] ] ] | malformed request: Duplicate field 'cmd'",
        "{\"v\":1,\"cmd\":\"stop\"} ]                        | malformed request: Unexpected close marker",
        "{\"v\":1,\"cmd\":\"stop\"}{\"v\":1,\"cmd\":\"stop\"} | malformed request: Trailing token",
        "{\"v\":2,\"cmd\":\"status\"}                        | protocol version 2 is not supported",
        "{\"cmd\":\"status\"}                                | request has no protocol version",
        "{\"v\":1}                                           | request has no \"cmd\"",
        "{\"v\":1,\"cmd\":\"rm\"}                            | unknown command 'rm'",
        "[1]                                                 | malformed request: expected a JSON object",
        "`{`                                                 | malformed request: Unexpected end-of-input",
    })
    void refuses(String line, String start) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Message.parseRequest(line));
        assertTrue(e.getMessage().startsWith(start), e.getMessage());
    }
}
