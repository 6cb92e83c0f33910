package dev.supervisor.protocol;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Set;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * The control socket's request parser on any line a client can send (the bytes as the control
 * server decodes them). A bad line must be an {@link IllegalArgumentException} with a message,
 * which the server sends back as the error answer; anything else thrown is a finding.
 * Saved inputs: src/test/resources/dev/supervisor/protocol/MessageFuzzTestInputs/parseRequest/.
 */
class MessageFuzzTest {
    private static final Set<String> COMMANDS = Set.of(Message.STATUS, Message.RELOAD, Message.STOP, Message.LISTENERS, Message.WATCH, Message.UPGRADE);

    @DictionaryEntries({"{\"v\":1,\"cmd\":\"", "\"v\"", "\"cmd\"", "status", "reload", "stop", "listeners", "watch", "upgrade", "{", "}", "[", "]", "\\u0000", "1e999", "-0"})
    @FuzzTest(maxDuration = "10s")
    void parseRequest(byte[] input) {
        String line = new String(input, StandardCharsets.UTF_8).trim();
        String cmd;
        try {
            cmd = Message.parseRequest(line);
        } catch (IllegalArgumentException e) {
            Fuzzing.assertClear(e);
            return;
        }
        assertTrue(COMMANDS.contains(cmd), "parseRequest returned unknown command " + cmd);
    }
}
