package dev.supervisor.cli;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * The client commands ({@code status}, {@code reload}, {@code upgrade}, {@code stop}) in their
 * plain forms, without picocli's model: building it (annotation proxies, converters, patterns) took
 * about a third of such a command's start. picocli stays the parser of record: any other command
 * line ({@code --help}, an unknown or repeated option, a missing value) is left to it, and
 * ClientCommandsTest checks that both read every plain form alike.
 */
public final class ClientCommands {
    private ClientCommands() {}

    /** The command {@code args} asks for with its options set, or null when picocli must read them. */
    public static Callable<Integer> parse(String[] args) {
        if (args.length == 0) {
            return null;
        }
        String cmd = args[0];
        boolean waits = cmd.equals("reload") || cmd.equals("upgrade");
        if (!waits && !cmd.equals("status") && !cmd.equals("stop")) {
            return null;
        }
        ClientOptions client = new ClientOptions();
        WaitOptions wait = new WaitOptions();
        boolean json = false;
        boolean timed = false;
        for (int i = 1; i < args.length; i++) {
            String name = args[i];
            String value = null;
            int eq = name.indexOf('=');
            if (name.startsWith("--") && eq > 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else if ((name.equals("--control") || name.equals("--timeout")) && i + 1 < args.length) {
                value = args[++i];
            }
            if (name.equals("--json") && cmd.equals("status") && value == null && !json) {
                json = true;
            } else if (name.equals("--control") && value != null && client.control == null && plain(value)) {
                try {
                    client.control = Path.of(value);
                } catch (InvalidPathException e) {
                    return null;
                }
            } else if (name.equals("--timeout") && waits && value != null && !timed && plain(value)) {
                wait.timeout = value;
                timed = true;
            } else {
                return null;
            }
        }
        switch (cmd) {
            case "status": {
                StatusCommand c = new StatusCommand();
                c.client = client;
                c.json = json;
                return c;
            }
            case "reload": {
                ReloadCommand c = new ReloadCommand();
                c.client = client;
                c.wait = wait;
                return c;
            }
            case "upgrade": {
                UpgradeCommand c = new UpgradeCommand();
                c.client = client;
                c.wait = wait;
                return c;
            }
            default: {
                StopCommand c = new StopCommand();
                c.client = client;
                return c;
            }
        }
    }

    /** A value picocli takes as it is: not empty, and not one that looks like an option. */
    private static boolean plain(String value) {
        return !value.isEmpty() && !value.startsWith("-");
    }
}
