package dev.supervisor.cli;

import java.time.Duration;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.Main;
import dev.supervisor.daemon.Durations;
import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "upgrade", mixinStandardHelpOptions = true, description = {
        "Re-execute the running supervisor from its installation (the launcher it was started from), in place: same pid, same "
                + "listening, control and notify sockets, workers untouched, state handed over. Run it after installing a newer "
                + "version; SIGUSR2 to the supervisor does the same.",
        "The new installation is first run in a check mode; if it fails, nothing changes.",
        "Exit 0 when the new image serves (old and new version printed), 1 when the check or the exec failed and the old image "
                + "still serves (the reason on stderr), 2 when no supervisor answers."})
public final class UpgradeCommand implements Callable<Integer> {
    @Mixin
    ClientOptions client;

    @Option(names = "--timeout", paramLabel = "DUR", defaultValue = "3m", description = "give up waiting after this long (default ${DEFAULT-VALUE})")
    String timeout;

    @Override
    public Integer call() throws Exception {
        Duration t;
        try {
            t = Durations.parse(timeout);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageError("--timeout: " + e.getMessage());
        }
        JsonNode answer;
        try {
            answer = ControlClient.call(client.path(), Message.UPGRADE, t);
        } catch (ControlClient.NoSupervisor e) {
            System.err.println("supervisor: " + e.getMessage());
            return Wire.EXIT_NO_SUPERVISOR;
        }
        if (answer.path(Message.OK).asBoolean()) {
            System.out.println("upgraded from " + answer.path("old").asText() + " to " + answer.path("new").asText() + " (pid "
                    + answer.path("pid").asLong() + ")");
            return Wire.EXIT_OK;
        }
        System.err.println("supervisor: " + answer.path(Message.ERROR).asText());
        return Wire.EXIT_RELOAD_FAILED;
    }
}
