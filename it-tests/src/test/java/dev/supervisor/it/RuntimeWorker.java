package dev.supervisor.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** The runtime tests' worker, {@code fixtures/runtime.py}, and config files for it. */
final class RuntimeWorker {
    private RuntimeWorker() {}

    static final ObjectMapper JSON = new ObjectMapper();

    /** The line the worker writes first to stdout and stderr: UTF-8, invalid UTF-8 and Latin-1 bytes. */
    static final byte[] BYTES = {'B', 'Y', 'T', 'E', 'S', ' ', 'Z', (byte) 0xC3, (byte) 0xBC, 'r', 'i', 'c', 'h', ' ', (byte) 0xFF, (byte) 0xFE,
        ' ', (byte) 0x80, ' ', 'l', 'a', 't', 'i', 'n', '1', ':', 'Z', (byte) 0xFC, 'r', 'i', 'c', 'h', ' ', 'e', 'n', 'd', '\n'};

    /** {@code python3 -u runtime.py ARGS...}. */
    static List<String> command(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Fixtures.python(), "-u", Fixtures.script("runtime.py").toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** A config file with these listeners over {@code runtime.py serve}, written whole (renamed into place). */
    static Path writeConfig(Path file, String... listen) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("listen", List.of(listen));
        m.put("command", command("serve"));
        m.put("ready", "notify");
        try {
            Path tmp = file.resolveSibling(file.getFileName() + ".new");
            Files.writeString(tmp, JSON.writeValueAsString(m));
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** GET {@code path} on {@code port}: the answer's JSON body ({"pid", "generation", "listener"}). */
    static JsonNode get(int port, String path) throws IOException {
        Http.Response r = Http.get(port, path);
        if (r.status() != 200) {
            throw new AssertionError("GET " + path + " on port " + port + ": " + r);
        }
        return JSON.readTree(r.body());
    }
}
