package dev.supervisor.daemon.upgrade;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** This build's version, from the jar's {@code dev/supervisor/version.properties} (set at package time). */
public final class Version {
    private Version() {}

    private static final String CURRENT = read();

    public static String current() {
        return CURRENT;
    }

    private static String read() {
        try (InputStream in = Version.class.getResourceAsStream("/dev/supervisor/version.properties")) {
            if (in == null) {
                return "dev";
            }
            Properties p = new Properties();
            p.load(in);
            String v = p.getProperty("version", "dev").trim();
            return v.isEmpty() || v.startsWith("${") ? "dev" : v;
        } catch (IOException e) {
            return "dev";
        }
    }
}
