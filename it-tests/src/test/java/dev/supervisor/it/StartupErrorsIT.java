package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code supervisor run} refuses what it cannot do before starting anything: exit 69 when a
 * listener cannot be bound, exit 64 for bad input, each with one stderr line naming the value.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class StartupErrorsIT {
    private static final Duration EXIT = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    @Test
    void portInUseExits69NamingTheAddressAndEaddrinuse() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            String address = "127.0.0.1:" + taken.getLocalPort();
            try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", address).command(Fixtures.worker("env")).start()) {
                assertEquals(69, s.awaitExit(EXIT), "exit code" + s.output().dump());
                String line = onlyLine(s);
                assertTrue(line.contains(address) && line.contains("EADDRINUSE"), "names the address and EADDRINUSE: " + line);
                assertTrue(s.output().lines(Output.Stream.STDOUT).isEmpty(), "nothing on stdout" + s.output().dump());
            }
        }
    }

    /** Bad input, each with the value its one stderr line must name. */
    enum BadInput {
        UNKNOWN_ADDRESS_FORM {
            @Override
            List<String> listen(Path tmp) {
                return List.of("-l", "web=ftp://127.0.0.1:8080");
            }

            @Override
            String value(Path tmp) {
                return "ftp://127.0.0.1:8080";
            }
        },
        BAD_LISTENER_NAME {
            @Override
            List<String> listen(Path tmp) {
                return List.of("-l", "web/1=127.0.0.1:0");
            }

            @Override
            String value(Path tmp) {
                return "web/1";
            }
        },
        NONEXISTENT_COMMAND {
            @Override
            List<String> command(Path tmp) {
                return List.of(tmp.resolve("no-such-dir/worker").toString(), "--flag");
            }

            @Override
            String value(Path tmp) {
                return tmp.resolve("no-such-dir/worker").toString();
            }
        },
        COMMAND_NOT_ON_PATH {
            @Override
            List<String> command(Path tmp) {
                return List.of("no-such-worker-command-4b8a");
            }

            @Override
            String value(Path tmp) {
                return "no-such-worker-command-4b8a";
            }
        },
        UNIX_PATH_OF_108_BYTES {
            @Override
            List<String> listen(Path tmp) {
                return List.of("-l", "sock=unix:" + value(tmp));
            }

            @Override
            String value(Path tmp) {
                return unixPath(tmp, 108);
            }
        };

        List<String> listen(Path tmp) {
            return List.of("-l", "web=127.0.0.1:0");
        }

        List<String> command(Path tmp) {
            return Fixtures.worker("env");
        }

        abstract String value(Path tmp);
    }

    @ParameterizedTest
    @EnumSource(BadInput.class)
    void badInputExits64WithOneLineNamingTheValue(BadInput bad) {
        String value = bad.value(tmp);
        try (SupervisorProcess s = SupervisorProcess.run(tmp).option(bad.listen(tmp).toArray(String[]::new))
                .command(bad.command(tmp)).start()) {
            assertEquals(64, s.awaitExit(EXIT), "exit code" + s.output().dump());
            String line = onlyLine(s);
            assertTrue(line.contains(value), "the line names '" + value + "': " + line);
            assertTrue(s.output().lines(Output.Stream.STDOUT).isEmpty(), "nothing on stdout" + s.output().dump());
        }
    }

    /**
     * What picocli rejects while parsing (an unknown option, a number that is not one) is bad
     * usage too: exit 64, and the first stderr line names the value (usage help may follow).
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', value = {
            "--no-such-option | --no-such-option",
            "--workers=many   | many"})
    void optionTheParserRejectsExits64(String option, String value) {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").option(option)
                .command(Fixtures.worker("env")).start()) {
            assertEquals(64, s.awaitExit(EXIT), "exit code" + s.output().dump());
            List<String> err = s.output().lines(Output.Stream.STDERR);
            assertTrue(!err.isEmpty() && err.get(0).contains(value), "the first stderr line names '" + value + "'" + s.output().dump());
        }
    }

    /** A path of {@code bytes} bytes (UTF-8) under {@code dir}. */
    static String unixPath(Path dir, int bytes) {
        String prefix = dir.toString() + "/";
        int fill = bytes - prefix.getBytes(StandardCharsets.UTF_8).length;
        if (fill < 1) {
            throw new IllegalStateException("temp dir " + dir + " is too long for a " + bytes + "-byte socket path");
        }
        return prefix + "s".repeat(fill);
    }

    /** The supervisor's stderr is exactly one "supervisor: ..." line. */
    private static String onlyLine(SupervisorProcess s) {
        List<String> err = s.output().lines(Output.Stream.STDERR).stream().filter(l -> !l.isBlank()).toList();
        assertEquals(1, err.size(), "one line on stderr" + s.output().dump());
        assertTrue(err.get(0).startsWith("supervisor: "), err.get(0));
        return err.get(0);
    }
}
