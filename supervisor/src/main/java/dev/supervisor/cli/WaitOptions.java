package dev.supervisor.cli;

import java.time.Duration;

import dev.supervisor.Main;
import dev.supervisor.daemon.Durations;
import picocli.CommandLine.Option;

/** {@code --timeout} of the commands that wait for the supervisor to finish what they asked (reload, upgrade). */
final class WaitOptions {
    static final String DEFAULT_TIMEOUT = "5m";

    @Option(names = "--timeout", paramLabel = "DUR", defaultValue = DEFAULT_TIMEOUT, description = "give up waiting after this long (default ${DEFAULT-VALUE})")
    String timeout = DEFAULT_TIMEOUT;

    Duration timeout() {
        try {
            return Durations.parse(timeout);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageError("--timeout: " + e.getMessage());
        }
    }
}
