package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * {@link Config#parse} on any config file text, with no flags: a bad file is an
 * {@link IllegalArgumentException} with a message. A config it accepts must be one the supervisor
 * can run: durations it can wait for, 1..1024 workers, a command exec can take.
 * Saved inputs: src/test/resources/dev/supervisor/daemon/ConfigFuzzTestInputs/parse/.
 */
class ConfigFuzzTest {
    @DictionaryEntries({"{\"listen\":[\"w=:1\"],\"command\":[\"x\"]", "\"listen\"", "\"command\"", "\"workers\"", "\"ready\"", "\"ready-timeout\"", "\"drain-signal\"", "\"drain-timeout\"", "\"stdin-listener\"", "\"env\"", "notify", "delay:", "ms", "h", "TERM", "SIGKILL", "null", "true", "\\u0000", "9999999999"})
    @FuzzTest(maxDuration = "10s")
    void parse(byte[] input) {
        String text = new String(input, StandardCharsets.UTF_8);
        Config c;
        try {
            c = Config.parse(text, "fuzz.json", new Config.Flags());
        } catch (IllegalArgumentException e) {
            assertNotNull(e.getMessage());
            assertFalse(e.getMessage().isBlank());
            return;
        }
        // the supervisor turns each into a deadline in nanoseconds
        c.readyTimeout.toNanos();
        c.drainTimeout.toNanos();
        if (!c.ready.isNotify()) {
            c.ready.delay().toNanos();
        }
        assertTrue(c.workers >= 1 && c.workers <= 1024, "workers " + c.workers);
        assertFalse(c.listeners.isEmpty());
        assertFalse(c.command.isEmpty());
        for (String arg : c.command) {
            assertTrue(arg.indexOf('\0') < 0, "a command argument with a NUL byte: exec would cut it there");
        }
        c.env.forEach((k, v) -> assertTrue(!k.isEmpty() && k.indexOf('=') < 0 && k.indexOf('\0') < 0 && v.indexOf('\0') < 0,
                "env " + k + " is not something execve can pass"));
    }
}
