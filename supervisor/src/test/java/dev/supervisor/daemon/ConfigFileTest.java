package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
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
                + "\"stdin-listener\":\"web\",\"metrics\":\"127.0.0.1:9100\",\"env\":{\"A\":\"1\",\"B\":2,\"C\":true}}", "c.json", new Config.Flags());
        assertEquals(List.of("python3", "app.py"), c.command);
        assertEquals(4, c.workers);
        assertEquals(Duration.ofMinutes(2), c.readyTimeout);
        assertEquals(10, c.drainSignal);
        assertEquals(Duration.ofHours(1), c.drainTimeout);
        assertEquals("web", c.stdinListener);
        assertEquals(Map.of("A", "1", "B", "2", "C", "true"), c.env);
        assertEquals(Address.parse("127.0.0.1:9100"), c.metrics);
        assertEquals(15, parse("\"drain-signal\":15").drainSignal);
        assertEquals(null, parse("").metrics, "no metrics unless asked for");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        // what the parser used to take silently, and now names
        "\"workers\":true                 | \"workers\" in c.json must be a whole number from 1 to 1024, found true",
        "\"workers\":\"4\"                | \"workers\" in c.json must be a whole number from 1 to 1024, found \"4\"",
        "\"workers\":2.5                  | \"workers\" in c.json must be a whole number from 1 to 1024, found 2.5",
        "\"workers\":4294967297           | \"workers\" in c.json must be a whole number from 1 to 1024, found 4294967297",
        "\"workers\":0                    | bad \"workers\" 0 in c.json: expected 1 to 1024",
        "\"drain-timeout\":{}             | \"drain-timeout\" in c.json must be a string, found {}",
        "\"ready\":[\"notify\"]           | \"ready\" in c.json must be a string, found [\"notify\"]",
        "\"stdin-listener\":1.5           | \"stdin-listener\" in c.json must be a string, found 1.5",
        "\"drain-timeout\":\"999999999999h\" | \"drain-timeout\" in c.json: bad duration '999999999999h': at most 8760h (365 days)",
        "\"ready-timeout\":\"99999999999999999999s\" | \"ready-timeout\" in c.json: bad duration '99999999999999999999s': at most 8760h (365 days)",
        "\"ready\":\"sometime\"         | \"ready\" in c.json: bad mode 'sometime': expected notify or delay:DURATION (as in delay:1s)",
        "\"drain-signal\":\"FOO\"       | \"drain-signal\" in c.json: unknown signal 'FOO': expected one of HUP, INT, QUIT, KILL, USR1, USR2, TERM, STOP, WINCH or a number",
        "\"env\":{\"LISTEN_FDS\":\"3\"} | \"env\" in c.json: LISTEN_FDS is set by the supervisor for each worker and cannot be given (reserved: LISTEN_*, NOTIFY_SOCKET, SUPERVISOR_*)",
        "\"env\":{\"NOTIFY_SOCKET\":\"/x\"} | \"env\" in c.json: NOTIFY_SOCKET is set by the supervisor for each worker and cannot be given (reserved: LISTEN_*, NOTIFY_SOCKET, SUPERVISOR_*)",
        "\"env\":{\"SUPERVISOR_WORKER\":\"7\"} | \"env\" in c.json: SUPERVISOR_WORKER is set by the supervisor for each worker and cannot be given (reserved: LISTEN_*, NOTIFY_SOCKET, SUPERVISOR_*)",
        "\"env\":[\"A=1\"]                | \"env\" in c.json must be an object of NAME: \"value\", found ARRAY",
        "\"env\":{\"A=B\":\"1\"}          | \"env\" in c.json: 'A=B' is not a variable name (non-empty, without '=' or NUL)",
        "\"env\":{\"\":\"1\"}             | \"env\" in c.json: '' is not a variable name (non-empty, without '=' or NUL)",
        "\"env\":{\"A\":\"x\\u0000y\"}    | \"env\" in c.json: the value of A contains a NUL byte",
        "\"env\":{\"A\":{}}               | \"env\" in c.json: A must be a string, found OBJECT",
        "\"worker\":4                     | config c.json has an unknown field \"worker\": expected one of listen, command, workers, ready, ready-timeout, drain-signal, drain-timeout, stdin-listener, starting-priority, starting-priority-for, metrics, env",
        "\"starting-priority\":\"low\"      | bad \"starting-priority\" in c.json 'low': expected nice, idle, batch or normal",
        "\"metrics\":\"unix:/run/m.sock\"  | \"metrics\" in c.json unix:/run/m.sock: expected a TCP address (HOST:PORT, :PORT, [V6ADDR]:PORT)",
        "\"metrics\":\"udp://:9100\"      | \"metrics\" in c.json udp://:9100: expected a TCP address (HOST:PORT, :PORT, [V6ADDR]:PORT)",
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

    /** Whatever the path holds, the daemon reads at most {@link Config#MAX_CONFIG_BYTES} of a regular file, or refuses. */
    @Test
    void readsOnlyARegularFileOfBoundedSize(@TempDir Path tmp) throws Exception {
        Path big = tmp.resolve("big.json");
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(30L * 1024 * 1024); // sparse: 30 MB that the old reader took into the heap
        }
        assertEquals("config " + big + " is 31457280 bytes; at most 1048576 are read", loadError(big));

        Path fifo = tmp.resolve("fifo.json");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        // The old reader blocked here for ever, waiting for a writer.
        assertEquals("config " + fifo + " is not a regular file (a FIFO, socket or device): give a JSON file", loadError(fifo));
        assertEquals("config /dev/zero is not a regular file (a FIFO, socket or device): give a JSON file", loadError(Path.of("/dev/zero")));
        assertEquals("config " + tmp + " is not a regular file (a directory): give a JSON file", loadError(tmp));

        Path missing = tmp.resolve("no-such.json");
        assertEquals("cannot read config " + missing + ": no such file or directory", loadError(missing));

        Path binary = tmp.resolve("binary.json");
        Files.write(binary, new byte[] {(byte) 0xff, (byte) 0xfe, 0, 1});
        String m = loadError(binary);
        assertTrue(m.startsWith("config " + binary + " is not valid JSON: ") && !m.contains("java.") && !m.contains("\n"), m);
    }

    private static String loadError(Path file) {
        return assertThrows(IllegalArgumentException.class, () -> Config.load(file, new Config.Flags())).getMessage();
    }

    @Test
    void aSettingGivenAsAFlagIsNamedAsTheFlag() {
        Config.Flags f = new Config.Flags();
        f.workers = -1;
        f.readyTimeout = "0s";
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Config.parse("{" + BASE + "}", "c.json", f));
        assertEquals("bad --workers -1: expected 1 to 1024", e.getMessage());
        f.workers = null;
        e = assertThrows(IllegalArgumentException.class, () -> Config.parse("{" + BASE + "}", "c.json", f));
        assertEquals("--ready-timeout must be more than 0", e.getMessage());
    }

    @Test
    void theArgumentsOfTheConfigAreUtf8() {
        Config c = parse("\"env\":{\"GREETING\":\"Z\u00fcrich\"}");
        assertEquals("Zürich", c.env.get("GREETING"));
        c = Config.parse("{\"listen\":[\"w=:1\"],\"command\":[\"x\",\"Z\u00fcrich\"]}", "c.json", new Config.Flags());
        assertArrayEquals(new byte[] {'Z', (byte) 0xc3, (byte) 0xbc, 'r', 'i', 'c', 'h'}, c.argv().get(1));
    }
}
