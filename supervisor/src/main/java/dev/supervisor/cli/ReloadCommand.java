package dev.supervisor.cli;

import java.util.concurrent.Callable;

import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "reload", mixinStandardHelpOptions = true, description = {"Start a new generation of workers; once it is ready, drain the old one.",
        "Exit 0 when the new generation serves, 1 when it failed and the old one still serves, 2 when no supervisor answers."})
public final class ReloadCommand implements Callable<Integer> {
    @Mixin
    ClientOptions client;

    @Mixin
    WaitOptions wait;

    @Override
    public Integer call() throws Exception {
        return ControlClient.exchange(client.path(), Message.RELOAD, wait.timeout(), answer -> {
            System.out.println("generation " + answer.path("generation").asInt() + " serves");
            return Wire.EXIT_OK;
        });
    }
}
