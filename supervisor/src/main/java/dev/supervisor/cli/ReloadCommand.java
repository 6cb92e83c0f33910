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

@Command(name = "reload", mixinStandardHelpOptions = true, description = {"Start a new generation of workers; once it is ready, drain the old one.",
        "Exit 0 when the new generation serves, 1 when it failed and the old one still serves, 2 when no supervisor answers."})
public final class ReloadCommand implements Callable<Integer> {
    @Mixin
    ClientOptions client;

    @Option(names = "--timeout", paramLabel = "DUR", defaultValue = "5m", description = "give up waiting after this long (default ${DEFAULT-VALUE})")
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
            answer = ControlClient.call(client.path(), Message.RELOAD, t);
        } catch (ControlClient.NoSupervisor e) {
            System.err.println("supervisor: " + e.getMessage());
            return Wire.EXIT_NO_SUPERVISOR;
        } catch (ControlClient.NoAnswer e) {
            // Not 2: a supervisor is there and may still run the reload.
            System.err.println("supervisor: reload failed: " + e.getMessage() + "; the reload may still happen: 'supervisor status' shows"
                    + " which generation serves");
            return Wire.EXIT_RELOAD_FAILED;
        }
        if (answer.path(Message.OK).asBoolean()) {
            System.out.println("generation " + answer.path("generation").asInt() + " serves");
            return Wire.EXIT_OK;
        }
        System.err.println("supervisor: reload failed: " + answer.path(Message.ERROR).asText());
        for (JsonNode line : answer.path("stderr")) {
            System.err.println("  | " + line.asText());
        }
        return Wire.EXIT_RELOAD_FAILED;
    }
}
