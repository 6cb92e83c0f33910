package dev.supervisor.it.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.Manifest;
import java.util.stream.Stream;

/**
 * A newer build of the .deb made from the built one: the same files, with the package's
 * {@code Version:} and the supervisor jar's version (its manifest's {@code Implementation-Version}
 * and {@code dev/supervisor/version.properties} where there is one) given a suffix, repacked
 * with dpkg-deb. dpkg takes it for an upgrade of the built package.
 */
final class BumpedDeb {
    private BumpedDeb() {}

    /** A bumped package and its versions: Debian's and the one the supervisor reports. */
    record Bumped(Path deb, String debianVersion, String supervisorVersion) {}

    static Bumped of(Path deb, Path workDir, String suffix) throws IOException, InterruptedException {
        Path tree = workDir.resolve("tree");
        expect(Host.run(List.of(Host.tool("dpkg-deb"), "--raw-extract", deb.toString(), tree.toString()), null, Duration.ofMinutes(1)),
                "dpkg-deb --raw-extract");

        Path control = tree.resolve("DEBIAN/control");
        List<String> lines = new ArrayList<>();
        String debianVersion = null;
        for (String line : Files.readAllLines(control, StandardCharsets.UTF_8)) {
            if (line.startsWith("Version: ")) {
                debianVersion = line.substring("Version: ".length()).strip() + suffix;
                line = "Version: " + debianVersion;
            }
            lines.add(line);
        }
        if (debianVersion == null) {
            fail(deb + " has no Version: in its control file");
        }
        Files.write(control, lines, StandardCharsets.UTF_8);

        Path jar = supervisorJar(tree.resolve("usr/share/supervisor/lib"));
        String supervisorVersion = bumpManifest(jar, suffix);
        rewriteMd5sums(tree);

        Path out = workDir.resolve(deb.getFileName().toString().replace(".deb", suffix.replaceAll("[^A-Za-z0-9.~+-]", "") + ".deb"));
        expect(Host.run(List.of(Host.tool("dpkg-deb"), "--root-owner-group", "--build", tree.toString(), out.toString()), null,
                Duration.ofMinutes(2)), "dpkg-deb --build");
        Host.Result newer = Host.run(List.of(Host.tool("dpkg"), "--compare-versions", debianVersion, "gt",
                debianVersion.substring(0, debianVersion.length() - suffix.length())), null, Duration.ofSeconds(30));
        assertEquals(0, newer.code(), debianVersion + " is not newer for dpkg than the built package");
        return new Bumped(out, debianVersion, supervisorVersion);
    }

    /** The jar with dev/supervisor/Main.class. */
    private static Path supervisorJar(Path lib) throws IOException {
        try (Stream<Path> jars = Files.list(lib)) {
            for (Path jar : jars.filter(p -> p.toString().endsWith(".jar")).toList()) {
                try (FileSystem zip = FileSystems.newFileSystem(jar)) {
                    if (Files.exists(zip.getPath("dev/supervisor/Main.class"))) {
                        return jar;
                    }
                }
            }
        }
        return fail("no jar in " + lib + " has dev/supervisor/Main.class");
    }

    private static String bumpManifest(Path jar, String suffix) throws IOException {
        try (FileSystem zip = FileSystems.newFileSystem(URI.create("jar:" + jar.toUri()), Map.of())) {
            Path mf = zip.getPath("META-INF/MANIFEST.MF");
            Manifest manifest;
            try (InputStream in = Files.newInputStream(mf)) {
                manifest = new Manifest(in);
            }
            Attributes main = manifest.getMainAttributes();
            String version = main.getValue(Attributes.Name.IMPLEMENTATION_VERSION);
            if (version == null) {
                fail(jar + " has no Implementation-Version");
            }
            main.put(Attributes.Name.IMPLEMENTATION_VERSION, version + suffix);
            try (OutputStream out = Files.newOutputStream(mf)) {
                manifest.write(out);
            }
            Path props = zip.getPath("dev/supervisor/version.properties");
            if (Files.exists(props)) {
                List<String> lines = new ArrayList<>();
                for (String line : Files.readAllLines(props, StandardCharsets.ISO_8859_1)) {
                    if (line.startsWith("version=")) {
                        version = line.substring("version=".length()).strip();
                        line = "version=" + version + suffix;
                    }
                    lines.add(line);
                }
                Files.write(props, lines, StandardCharsets.ISO_8859_1);
            }
            return version + suffix;
        }
    }

    /** DEBIAN/md5sums, when there is one, for the files as they are now. */
    private static void rewriteMd5sums(Path tree) throws IOException {
        Path sums = tree.resolve("DEBIAN/md5sums");
        if (!Files.exists(sums)) {
            return;
        }
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(sums, StandardCharsets.UTF_8)) {
            String file = line.substring(line.indexOf("  ") + 2);
            out.add(md5(tree.resolve(file)) + "  " + file);
        }
        Files.write(sums, out, StandardCharsets.UTF_8);
    }

    private static String md5(Path file) throws IOException {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(Files.readAllBytes(file)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void expect(Host.Result r, String what) {
        if (r.code() != 0) {
            fail(what + " exited " + r.code() + ":\n" + r.tail(20));
        }
    }
}
