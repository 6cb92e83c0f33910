package dev.supervisor.it.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.supervisor.it.Output;
import dev.supervisor.it.SupervisorProcess;

/**
 * COMMAND and its arguments reach exec as a vector: through the LISTEN_PID shim ("$@") and
 * setpriv, every byte arrives as given and no shell interprets any of it.
 */
class NoShellInjectionIT {
    @TempDir
    Path tmp;
    @TempDir
    Path fixtures;

    @Test
    void argumentsArriveByteForByteAndNothingRuns() throws Exception {
        Path dir = Sec.publicFixtures(fixtures);
        Path marker = tmp.resolve("pwned");
        List<String> args = List.of(
                "two words", "'single'", "\"double\"", "$(touch " + marker + ")", "`touch " + marker + "`",
                "; touch " + marker, "&& touch " + marker, "| touch " + marker, "$HOME", "${PATH}", "*", "~", "\\", "",
                "--", "-c", "line\nbreak", "tab\there", "ünïcødé", "$0", "\"$@\"", "%s%n", ">" + marker);
        List<String> cmd = new ArrayList<>(List.of(Sec.python(), "-u", dir.resolve("argv.py").toString()));
        cmd.addAll(args);
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").readyNotify().command(cmd).start()) {
            s.awaitReady(1);
            Output.Match line = s.awaitLine("^\\[1\\.0 \\d+\\] ARGV (.*)$", Duration.ofSeconds(20));
            JsonNode report = new ObjectMapper().readTree(line.group(1));
            List<String> got = new ArrayList<>();
            report.path("argv").forEach(a -> got.add(a.asText()));
            assertEquals(args, got);
            assertTrue(report.path("listen_pid_is_own").asBoolean(), "LISTEN_PID is the pid that runs COMMAND");
            assertFalse(Files.exists(marker), "a shell ran part of an argument: " + marker + " exists");
        }
        assertFalse(Files.exists(marker), "a shell ran part of an argument: " + marker + " exists");
    }
}
