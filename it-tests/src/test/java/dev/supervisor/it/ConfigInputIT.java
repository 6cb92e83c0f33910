package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a config file can do to the daemon: nothing beyond a refused start (64, one line) or a
 * failed reload (1, the reason) with the old generation serving. A 30 MB file once took the whole
 * heap and the daemon with it; a FIFO hung it; a reserved variable broke the workers silently.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ConfigInputIT {
    private static final Duration EXIT = Duration.ofSeconds(20);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private ObjectNode config() {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("listen").add("web=127.0.0.1:0");
        List<String> cmd = Fixtures.worker("http");
        cmd.forEach(c.putArray("command")::add);
        c.put("ready", "notify");
        return c;
    }

    private Path write(String name, ObjectNode c) throws Exception {
        Path p = tmp.resolve(name);
        Files.writeString(p, JSON.writeValueAsString(c));
        return p;
    }

    @Test
    void aHugeOrReservedConfigOnReloadFailsThatReloadAndTheOldGenerationServes() throws Exception {
        Path file = write("supervisor.json", config());
        try (SupervisorProcess s = SupervisorProcess.run(tmp).rawArgs("run", "-c", file.toString(), "--control",
                tmp.resolve("ctl.sock").toString()).start()) {
            int port = s.port("web");
            s.awaitReady(1);
            assertEquals(200, Http.get(port, "/").status());

            // 30 MB of valid JSON: one long argument.
            ObjectNode big = config();
            ((com.fasterxml.jackson.databind.node.ArrayNode) big.get("command")).add("x".repeat(30 * 1024 * 1024));
            Path tmpFile = write("big.json", big);
            Files.move(tmpFile, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            SupervisorProcess.Cli r = s.cli("reload", "--control", s.control().toString());
            assertEquals(1, r.exit(), "reload of a 30 MB config: " + r);
            assertTrue(r.stderr().contains("bytes; at most 1048576 are read"), "the reason: " + r);
            assertEquals(200, Http.get(port, "/").status(), "generation 1 still serves");
            assertTrue(s.handle().isAlive(), "the daemon is alive" + s.output().dump());

            ObjectNode reserved = config();
            reserved.putObject("env").put("LISTEN_FDS", "7");
            write("supervisor.json", reserved);
            r = s.cli("reload", "--control", s.control().toString());
            assertEquals(1, r.exit(), "reload with a reserved variable: " + r);
            assertTrue(r.stderr().contains("LISTEN_FDS is set by the supervisor"), "names the variable: " + r);
            assertEquals(200, Http.get(port, "/").status(), "generation 1 still serves");

            write("supervisor.json", config());
            r = s.cli("reload", "--control", s.control().toString());
            assertEquals(0, r.exit(), "a good config reloads again: " + r);
            assertEquals(2, s.status().path("serving").asInt());
        }
    }

    @Test
    void aBadConfigAtStartIsExit64WithOneLine() throws Exception {
        Path big = tmp.resolve("big.json");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(12L * 1024 * 1024);
        }
        Path fifo = tmp.resolve("fifo.json");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        Path binary = tmp.resolve("binary.json");
        Files.write(binary, new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, (byte) 0xff});
        ObjectNode reserved = config();
        reserved.putObject("env").put("SUPERVISOR_GENERATION", "9");
        Path reservedFile = write("reserved.json", reserved);
        for (Object[] c : new Object[][] {
            {big, "is 12582912 bytes; at most 1048576 are read"},
            {fifo, "is not a regular file (a FIFO, socket or device)"},
            {binary, "is not valid JSON"},
            {reservedFile, "SUPERVISOR_GENERATION is set by the supervisor"}}) {
            try (SupervisorProcess s = SupervisorProcess.run(tmp).rawArgs("run", "-c", c[0].toString(), "--control",
                    tmp.resolve("ctl.sock").toString()).start()) {
                assertEquals(64, s.awaitExit(EXIT), c[0] + s.output().dump());
                List<String> err = s.output().lines(Output.Stream.STDERR);
                assertEquals(1, err.size(), "one line: " + err);
                assertTrue(err.get(0).startsWith("supervisor: ") && err.get(0).contains((String) c[1]), err.get(0));
                assertTrue(!err.get(0).contains("java.") && !err.get(0).contains("Exception"), "no Java class name: " + err.get(0));
            }
        }
        assertTrue(new String(Files.readAllBytes(binary), StandardCharsets.ISO_8859_1).startsWith("\u007fELF"), "left as it was");
    }
}
