package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@link Config#parse}: what a config file may hold, and the error for each thing it may not. */
class ConfigFileTest {
    private static final String BASE = "\"listen\":[\"w=:1\"],\"command\":[\"x\"]";

    private static Config parse(String fields) {
        return Config.parse("{" + BASE + (fields.isEmpty() ? "" : "," + fields) + "}", "c.json", new Config.Flags());
    }

    @Test
    void everyField() {
        Config c = Config.parse("{\"listen\":[\"web=127.0.0.1:8080\"],\"command\":[\"python3\",\"app.py\"],\"workers\":4,"
                + "\"ready\":\"notify\",\"ready-timeout\":\"2m\",\"drain-signal\":\"USR1\",\"drain-timeout\":\"1h\","
                + "\"stdin-listener\":\"web\",\"env\":{\"A\":\"1\",\"B\":2,\"C\":true}}", "c.json", new Config.Flags());
        assertEquals(List.of("python3", "app.py"), c.command);
        assertEquals(4, c.workers);
        assertEquals(Duration.ofMinutes(2), c.readyTimeout);
        assertEquals(10, c.drainSignal);
        assertEquals(Duration.ofHours(1), c.drainTimeout);
        assertEquals("web", c.stdinListener);
        assertEquals(Map.of("A", "1", "B", "2", "C", "true"), c.env);
        assertEquals(15, parse("\"drain-signal\":15").drainSignal);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        // what the parser used to take silently, and now names
        "\"workers\":true                 | \"workers\" in c.json must be a whole number from 1 to 1024, found true",
        "\"workers\":\"4\"                | \"workers\" in c.json must be a whole number from 1 to 1024, found \"4\"",
        "\"workers\":2.5                  | \"workers\" in c.json must be a whole number from 1 to 1024, found 2.5",
        "\"workers\":4294967297           | \"workers\" in c.json must be a whole number from 1 to 1024, found 4294967297",
        "\"workers\":0                    | bad --workers 0: expected 1 to 1024",
        "\"drain-timeout\":{}             | \"drain-timeout\" in c.json must be a string, found {}",
        "\"ready\":[\"notify\"]           | \"ready\" in c.json must be a string, found [\"notify\"]",
        "\"stdin-listener\":1.5           | \"stdin-listener\" in c.json must be a string, found 1.5",
        "\"drain-timeout\":\"999999999999h\" | --drain-timeout: bad duration '999999999999h': at most 8760h (365 days)",
        "\"env\":[\"A=1\"]                | \"env\" in c.json must be an object of NAME: \"value\", found ARRAY",
        "\"env\":{\"A=B\":\"1\"}          | \"env\" in c.json: 'A=B' is not a variable name (non-empty, without '=' or NUL)",
        "\"env\":{\"\":\"1\"}             | \"env\" in c.json: '' is not a variable name (non-empty, without '=' or NUL)",
        "\"env\":{\"A\":\"x\\u0000y\"}    | \"env\" in c.json: the value of A contains a NUL byte",
        "\"env\":{\"A\":{}}               | \"env\" in c.json: A must be a string, found OBJECT",
        "\"worker\":4                     | config c.json has an unknown field \"worker\": expected one of listen, command, workers, ready, ready-timeout, drain-signal, drain-timeout, stdin-listener, starting-priority, env",
        "\"starting-priority\":\"low\"      | bad --starting-priority 'low': expected idle, batch, nice or normal",
    })
    void refuses(String fields, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse(fields));
        assertEquals(message, e.getMessage());
    }

    @Test
    void commandThatExecCannotTake() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Config.parse("{\"listen\":[\"w=:1\"],\"command\":[\"sh\",\"a\\u0000b\"]}", "c.json", new Config.Flags()));
        assertEquals("command argument 'a?b' contains a NUL byte", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Config.parse("{\"listen\":[\"w=:1\"],\"command\":[\"\"]}", "c.json", new Config.Flags()));
        assertEquals("the command is an empty string", e.getMessage());
    }

    @Test
    void notJson() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Config.parse("{", "c.json", new Config.Flags()));
        assertTrue(e.getMessage().startsWith("config c.json is not valid JSON: "), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Config.parse("[]", "c.json", new Config.Flags()));
        assertEquals("config c.json is not a JSON object", e.getMessage());
    }
}
