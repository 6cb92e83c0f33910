package dev.supervisor.cli;

import java.util.concurrent.Callable;

import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "upgrade", mixinStandardHelpOptions = true, description = {
        "Re-execute the supervisor from its installation in place: same pid, sockets and workers (SIGUSR2 does the same).",
        "Exit 0 when the new image serves, 1 when the upgrade failed and the old one still runs, 2 when no supervisor answers."})
public final class UpgradeCommand implements Callable<Integer> {
    @Mixin
    ClientOptions client;

    @Mixin
    WaitOptions wait;

    @Override
    public Integer call() throws Exception {
        return ControlClient.exchange(client.path(), Message.UPGRADE, wait.timeout(), answer -> {
            System.out.println("upgraded from " + answer.path("from").asText() + " to " + answer.path("to").asText() + " (upgrade "
                    + answer.path("upgrades").asInt() + ")");
            return Wire.EXIT_OK;
        });
    }
}
