package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JavaFlagsTest {
    @TempDir
    Path tmp;

    @Test
    void eachKindOfCommand() throws IOException {
        String both = jar("both.jar", Map.of("Add-Opens", "java.base/java.lang java.base/sun.nio.ch", "Enable-Native-Access", "ALL-UNNAMED"));
        String opensOnly = jar("opens.jar", Map.of("Add-Opens", "java.base/sun.nio.ch"));
        String none = jar("none.jar", Map.of());
        String flags = "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED";
        Object[][] table = {
            // command, needs the flags from the supervisor
            {List.of("python3", "app.py"), true},
            {List.of("/opt/app/bin/start"), true},
            {List.of("/usr/bin/java", "-cp", "lib/*", "app.Main"), true},
            {List.of("java", "-jar", both), false},
            {List.of("/jdk/bin/java", "-XX:+UseSerialGC", "-jar", both, "--server.port=1"), false},
            {List.of("java", "-jar", opensOnly), true},
            {List.of("java", "-jar", none), true},
            {List.of("java", "-jar", tmp.resolve("missing.jar").toString()), true},
            {List.of("java", "-jar"), true},
            {List.of("java", flags, "--enable-native-access=ALL-UNNAMED", "-cp", "x", "app.Main"), false},
            {List.of("java", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED", "-jar", none), false},
            {List.of("java", flags, "-cp", "x", "app.Main"), true},
            {List.of("java", "-cp", "x", "app.Main", flags, "--enable-native-access=ALL-UNNAMED"), true},
            {List.of("java", "--enable-native-access=ALL-UNNAMED", "-jar", opensOnly), false},
        };
        for (Object[] row : table) {
            assertEquals(row[1], JavaFlags.needed(cast(row[0])), String.valueOf(row[0]));
        }
    }

    @SuppressWarnings("unchecked")
    private static List<String> cast(Object o) {
        return (List<String>) o;
    }

    private String jar(String name, Map<String, String> attributes) throws IOException {
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        attributes.forEach((k, v) -> m.getMainAttributes().put(new Attributes.Name(k), v));
        Path jar = tmp.resolve(name);
        try (OutputStream out = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(out, m)) {
            j.flush();
        }
        return jar.toString();
    }
}
