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
        try {
            ControlClient.call(client.path(), Message.STOP, Duration.ofSeconds(10));
        } catch (ControlClient.NoSupervisor e) {
            System.err.println("supervisor: " + e.getMessage());
            return Wire.EXIT_NO_SUPERVISOR;
        } catch (ControlClient.NoAnswer e) {
            System.err.println("supervisor: " + e.getMessage() + "; the stop request was sent: the supervisor stops when it reads it"
                    + " (if it resumes); kill -TERM its pid to be sure");
            return Wire.EXIT_NO_SUPERVISOR;
        }
        return Wire.EXIT_OK;
    }
}
