package dev.supervisor.cli;

import java.time.Duration;
import java.util.concurrent.Callable;


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
        return ControlClient.exchange(client.path(), Message.RELOAD, t, answer -> {
            System.out.println("generation " + answer.path("generation").asInt() + " serves");
            return Wire.EXIT_OK;
        });
    }
}
