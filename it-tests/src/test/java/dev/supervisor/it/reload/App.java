package dev.supervisor.it.reload;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.databind.ObjectMapper;

import dev.supervisor.it.Fixtures;

/** The reload tests' worker, {@code src/test/resources/reload/app.py}, and config files for it. */
final class App {
    private App() {}

    static final ObjectMapper JSON = new ObjectMapper();

    /** {@code python3 -u app.py ARGS...}. */
    static List<String> command(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Fixtures.python(), "-u", script().toString()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    static Path script() {
        URL url = App.class.getResource("/reload/app.py");
        if (url == null) {
            fail("reload/app.py is not on the test class path (it-tests/src/test/resources/reload)");
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Writes {@code settings} as the JSON config file {@code file}, whole or not at all (a new file
     * renamed over the old one), so that a reload never reads half a file.
     */
    static Path writeConfig(Path file, Map<String, Object> settings) {
        try {
            Path tmp = file.resolveSibling(file.getFileName() + ".new");
            Files.writeString(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(settings));
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
