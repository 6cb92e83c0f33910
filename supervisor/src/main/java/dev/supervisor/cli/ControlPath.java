package dev.supervisor.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import dev.supervisor.protocol.Wire;

/** Where the control socket is: --control, else $SUPERVISOR_CONTROL, else ${XDG_RUNTIME_DIR:-/tmp}/supervisor-UID/supervisor.sock. */
final class ControlPath {
    private ControlPath() {}

    static Path resolve(Path given, Map<String, String> env) {
        if (given != null) {
            return given.toAbsolutePath();
        }
        String fromEnv = env.get(Wire.SUPERVISOR_CONTROL);
        if (fromEnv != null && !fromEnv.isEmpty()) {
            return Path.of(fromEnv).toAbsolutePath();
        }
        String runtime = env.get("XDG_RUNTIME_DIR");
        String base = runtime == null || runtime.isEmpty() ? "/tmp" : runtime;
        return Path.of(base, "supervisor-" + uid(), "supervisor.sock");
    }

    /** The real uid, from /proc so that the CLI loads no native code. */
    private static String uid() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return line.substring(4).trim().split("\\s+")[0];
                }
            }
        } catch (IOException ignored) {
            // fall through
        }
        return System.getProperty("user.name");
    }
}
