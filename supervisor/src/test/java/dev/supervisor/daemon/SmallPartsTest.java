package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import dev.supervisor.protocol.Wire;

/** Durations, signals, exit statuses, backoff, and the worker environment. */
class SmallPartsTest {

    @Test
    void durations() {
        assertEquals(Duration.ofMillis(500), Durations.parse("500ms"));
        assertEquals(Duration.ofSeconds(5), Durations.parse("5s"));
        assertEquals(Duration.ofMinutes(2), Durations.parse("2m"));
        assertEquals("1s", Durations.format(Duration.ofSeconds(1)));
        assertEquals("250ms", Durations.format(Duration.ofMillis(250)));
        assertEquals(Duration.ofHours(8760), Durations.parse("8760h"));
        // 8761h and the rest: past a year; 999999999999h overflowed the supervisor's nanosecond
        // deadlines (ConfigFuzzTest); "١s" has an Arabic-Indic digit, which Long.parseLong reads.
        for (String bad : new String[] {"", "5", "s", "5x", "-1s", "1.5s", "8761h", "999999999999h", "\u0661s"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Durations.parse(bad), bad);
            assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
        }
    }

    @Test
    void signals() {
        assertEquals(15, Signals.parse("TERM"));
        assertEquals(15, Signals.parse("SIGTERM"));
        assertEquals(10, Signals.parse("usr1"));
        assertEquals(3, Signals.parse("3"));
        assertThrows(IllegalArgumentException.class, () -> Signals.parse("BOGUS"));
        assertEquals("exited with code 3", ExitStatus.describe(ExitStatus.ofCode(3)));
        assertEquals("killed by SIGKILL", ExitStatus.describe(ExitStatus.ofSignal(9)));
    }

    @Test
    void backoffDoublesToThirtySecondsAndResetsAfterAMinuteOfService() {
        Backoff b = new Backoff();
        Duration quick = Duration.ofMillis(10);
        long[] expected = {100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000};
        for (long ms : expected) {
            assertEquals(Duration.ofMillis(ms), b.next(quick));
        }
        assertEquals(Duration.ofMillis(100), b.next(Duration.ofSeconds(60)));
        assertEquals(Duration.ofMillis(200), b.next(quick));
    }

    @Test
    void workerEnvironmentDropsInheritedActivationVariables() {
        Map<String, String> own = Map.of("PATH", "/bin", Wire.LISTEN_FDS, "9", Wire.LISTEN_PID, "1", Wire.LISTEN_FDNAMES, "x",
                Wire.NOTIFY_SOCKET, "/run/systemd/notify");
        Environment env = PosixSpawner.workerEnvironment(Environment.of(own), Map.of(Wire.LISTEN_FDS, "2"));
        assertEquals(List.of("PATH=/bin", "LISTEN_FDS=2"),
                env.entries().stream().map(e -> new String(e, java.nio.charset.StandardCharsets.UTF_8)).toList());
    }

    @Test
    void configRefusesBadInputNamingTheValue() {
        Config.Flags f = new Config.Flags();
        f.command = List.of("true".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        f.listen = List.of("bad name=:80");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Config.load(null, f)).getMessage().contains("'bad name'"));
        f.listen = List.of("web:80");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Config.load(null, f)).getMessage().contains("NAME=ADDRESS"));
        f.listen = List.of("a=:1", "a=:2");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Config.load(null, f)).getMessage().contains("twice"));
        f.listen = List.of("a=:1");
        f.workers = 0;
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Config.load(null, f)).getMessage().contains("--workers 0"));
        f.workers = 2;
        f.ready = "soon";
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Config.load(null, f)).getMessage().contains("'soon'"));
        f.ready = "delay:250ms";
        Config c = Config.load(null, f);
        assertEquals(2, c.workers);
        assertEquals(Duration.ofMillis(250), c.ready.delay());
        assertEquals(Duration.ofSeconds(60), c.readyTimeout);
        assertEquals(15, c.drainSignal);
    }
}
