package dev.supervisor.daemon;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * Whether a worker's command needs the JVM flags of the worker library from the supervisor (in
 * JDK_JAVA_OPTIONS, which makes the {@code java} launcher print "NOTE: Picked up
 * JDK_JAVA_OPTIONS" at every start). It does not when the command is the {@code java} launcher
 * and the launch already carries both: on its command line, or for {@code java -jar JAR} in the
 * jar's manifest ({@code Add-Opens: java.base/sun.nio.ch}, {@code Enable-Native-Access:
 * ALL-UNNAMED}), which the launcher honours. Anything else (a script that runs java, a class
 * path launch) gets them, as any command that might start a JVM.
 */
public final class JavaFlags {
    static final String OPENED_PACKAGE = "java.base/sun.nio.ch";
    private static final Attributes.Name ADD_OPENS = new Attributes.Name("Add-Opens");
    private static final Attributes.Name ENABLE_NATIVE_ACCESS = new Attributes.Name("Enable-Native-Access");

    private JavaFlags() {}

    /** True unless {@code command} is a {@code java} launch that has both flags by itself. */
    public static boolean needed(List<String> command) {
        if (command.isEmpty() || !Path.of(command.get(0)).getFileName().toString().equals("java")) {
            return true;
        }
        boolean opens = false;
        boolean nativeAccess = false;
        for (int i = 1; i < command.size(); i++) {
            String a = command.get(i);
            if (a.startsWith("--add-opens=")) {
                opens |= a.startsWith("--add-opens=" + OPENED_PACKAGE + "=");
            } else if (a.equals("--add-opens") && i + 1 < command.size()) {
                opens |= command.get(++i).startsWith(OPENED_PACKAGE + "=");
            } else if (a.startsWith("--enable-native-access")) {
                nativeAccess = true;
            } else if (a.equals("-jar") && i + 1 < command.size()) {
                Manifest m = manifest(command.get(i + 1));
                if (m != null) {
                    String o = m.getMainAttributes().getValue(ADD_OPENS);
                    opens |= o != null && List.of(o.trim().split("\\s+")).contains(OPENED_PACKAGE);
                    nativeAccess |= m.getMainAttributes().getValue(ENABLE_NATIVE_ACCESS) != null;
                }
                break;
            } else if (!a.startsWith("-")) {
                break; // the main class, or an option's value: the launcher's options end here
            }
        }
        return !(opens && nativeAccess);
    }

    /** The jar's manifest, or null when it cannot be read (then the worker gets the flags). */
    private static Manifest manifest(String jar) {
        try (JarFile f = new JarFile(jar, false)) {
            return f.getManifest();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
