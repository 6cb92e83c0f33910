package dev.supervisor.it.systemd;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The Debian mirror debootstrap fetches from: {@code -Dit.debian.mirror}, else the one apt's own
 * sources name for the main archive (deb822 {@code .sources} or one-line {@code sources.list}),
 * else deb.debian.org.
 */
final class Mirror {
    private Mirror() {}

    static final String DEFAULT = "http://deb.debian.org/debian";

    static String fromAptSources() throws IOException {
        String given = System.getProperty("it.debian.mirror");
        if (given != null && !given.isEmpty()) {
            return given;
        }
        List<Path> files = new ArrayList<>();
        Path dir = Path.of("/etc/apt/sources.list.d");
        if (Files.isDirectory(dir)) {
            try (var list = Files.newDirectoryStream(dir, "*.sources")) {
                list.forEach(files::add);
            }
        }
        files.sort(null);
        for (Path f : files) {
            String uri = fromDeb822(Files.readString(f, StandardCharsets.UTF_8));
            if (uri != null) {
                return uri;
            }
        }
        Path oneLine = Path.of("/etc/apt/sources.list");
        if (Files.isRegularFile(oneLine)) {
            for (String line : Files.readAllLines(oneLine, StandardCharsets.UTF_8)) {
                String[] w = line.trim().replaceAll("\\[[^]]*]", "").trim().split("\\s+");
                if (w.length >= 3 && w[0].equals("deb") && isMainArchive(w[2])) {
                    return w[1];
                }
            }
        }
        return DEFAULT;
    }

    /** The first URI of a stanza whose suites are the plain release ones (not -security). */
    static String fromDeb822(String text) {
        for (String stanza : text.split("\\n\\s*\\n")) {
            String uris = null;
            String suites = null;
            String types = null;
            for (String line : stanza.split("\\n")) {
                if (line.startsWith("#")) {
                    continue;
                }
                int colon = line.indexOf(':');
                if (colon < 0) {
                    continue;
                }
                String key = line.substring(0, colon).trim().toLowerCase();
                String value = line.substring(colon + 1).trim();
                switch (key) {
                    case "uris" -> uris = value;
                    case "suites" -> suites = value;
                    case "types" -> types = value;
                    default -> { }
                }
            }
            if (uris != null && suites != null && types != null && List.of(types.split("\\s+")).contains("deb")
                    && List.of(suites.split("\\s+")).stream().anyMatch(Mirror::isMainArchive)) {
                return uris.split("\\s+")[0];
            }
        }
        return null;
    }

    private static boolean isMainArchive(String suite) {
        return !suite.contains("-security") && !suite.contains("/updates") && !suite.contains("-backports");
    }
}
