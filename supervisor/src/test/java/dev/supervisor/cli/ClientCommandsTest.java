package dev.supervisor.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import java.util.concurrent.Callable;

import org.junit.jupiter.api.Test;

import picocli.CommandLine;

/** The client commands' plain forms are read without picocli exactly as picocli reads them; anything else is left to it. */
class ClientCommandsTest {
    private static final List<String[]> PLAIN = List.of(
            new String[] {"status"},
            new String[] {"status", "--json"},
            new String[] {"status", "--control", "/run/s/control.sock", "--json"},
            new String[] {"status", "--json", "--control=rel/control.sock"},
            new String[] {"reload"},
            new String[] {"reload", "--timeout", "3s"},
            new String[] {"reload", "--control", "/c.sock", "--timeout=90s"},
            new String[] {"upgrade", "--timeout", "1m", "--control", "/u.sock"},
            new String[] {"stop", "--control", "/s.sock"},
            new String[] {"stop"});

    private static final List<String[]> NOT_PLAIN = List.of(
            new String[] {},
            new String[] {"status", "--help"},
            new String[] {"status", "-h"},
            new String[] {"reload", "-V"},
            new String[] {"status", "--bogus"},
            new String[] {"status", "--control"},
            new String[] {"status", "--control", "--json"},
            new String[] {"status", "--control="},
            new String[] {"status", "--json", "--json"},
            new String[] {"status", "--json=yes"},
            new String[] {"status", "--control", "/a", "--control", "/b"},
            new String[] {"status", "extra"},
            new String[] {"reload", "--json"},
            new String[] {"stop", "--timeout", "3s"},
            new String[] {"reload", "--timeout", "1s", "--timeout", "2s"},
            new String[] {"run", "-l", "a=:0", "--", "sleep", "1"},
            new String[] {"statsu"});

    @Test
    void thePlainFormsAreReadAsPicocliReadsThem() throws Exception {
        for (String[] args : PLAIN) {
            Callable<Integer> plain = ClientCommands.parse(args);
            assertNotNull(plain, String.join(" ", args));
            // picocli as main builds it (that one command) and with every command, as it was built before
            for (String model : new String[] {args[0], null}) {
                CommandLine.ParseResult parsed = dev.supervisor.MainAccess.commandLine(model).parseArgs(args);
                Object picocli = parsed.subcommand().commandSpec().userObject();
                assertEquals(describe(picocli), describe(plain), String.join(" ", args));
            }
        }
    }

    @Test
    void everythingElseIsLeftToPicocli() {
        for (String[] args : NOT_PLAIN) {
            assertNull(ClientCommands.parse(args), String.join(" ", args));
        }
    }

    /** The command's class and every option it holds. */
    private static String describe(Object command) {
        if (command instanceof StatusCommand) {
            StatusCommand c = (StatusCommand) command;
            return "status " + c.client.control + " json=" + c.json;
        } else if (command instanceof ReloadCommand) {
            ReloadCommand c = (ReloadCommand) command;
            return "reload " + c.client.control + " timeout=" + c.wait.timeout;
        } else if (command instanceof UpgradeCommand) {
            UpgradeCommand c = (UpgradeCommand) command;
            return "upgrade " + c.client.control + " timeout=" + c.wait.timeout;
        } else if (command instanceof StopCommand) {
            return "stop " + ((StopCommand) command).client.control;
        }
        return command.getClass().getName();
    }
}
