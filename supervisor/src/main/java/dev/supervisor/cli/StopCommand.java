package dev.supervisor.cli;

import java.time.Duration;
import java.util.concurrent.Callable;

import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "stop", mixinStandardHelpOptions = true, description = "Stop a running supervisor gracefully (as SIGTERM does).")
public final class StopCommand implements Callable<Integer> {
    @Mixin
    ClientOptions client;

    @Override
    public Integer call() throws Exception {
        return ControlClient.exchange(client.path(), Message.STOP, Duration.ofSeconds(10), a -> Wire.EXIT_OK);
    }
}
