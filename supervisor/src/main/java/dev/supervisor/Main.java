package dev.supervisor;

import dev.supervisor.cli.ClientCommands;
import dev.supervisor.cli.DemoCommand;
import dev.supervisor.cli.ReloadCommand;
import dev.supervisor.cli.RunCommand;
import dev.supervisor.cli.StatusCommand;
import dev.supervisor.cli.StopCommand;
import dev.supervisor.cli.UpgradeCommand;
import dev.supervisor.protocol.Wire;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The command line: subcommands, and every exit code decided in one place. */
@Command(name = "supervisor", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Binds listening sockets once and runs workers on them; reloads them with no connection lost.",
        footer = {"", "'supervisor COMMAND --help' lists the options of COMMAND; the manual page (man supervisor, or man 1socket "
                + "supervisor) also has the config file's keys, the signals and the exit codes."},
        exitCodeOnInvalidInput = Wire.EXIT_USAGE, exitCodeOnExecutionException = Wire.EXIT_SOFTWARE)
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is needed: run, reload, upgrade, status, stop or demo");
    }

    /** Every command, by name, in the order help lists them. */
    private static final Map<String, Supplier<Object>> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("run", RunCommand::new);
        COMMANDS.put("reload", ReloadCommand::new);
        COMMANDS.put("upgrade", UpgradeCommand::new);
        COMMANDS.put("status", StatusCommand::new);
        COMMANDS.put("stop", StopCommand::new);
        COMMANDS.put("demo", DemoCommand::new);
    }

    public static void main(String[] args) {
        Callable<Integer> plain = ClientCommands.parse(args);
        System.exit(plain != null ? run(plain) : commandLine(args.length > 0 ? args[0] : null).execute(args));
    }

    /** A command read without picocli, its failures reported as picocli's handlers below report them. */
    private static int run(Callable<Integer> command) {
        try {
            return command.call();
        } catch (Exception e) {
            System.err.println(failure(e));
            return exitCode(e);
        }
    }

    private static String failure(Exception e) {
        return "supervisor: " + (e instanceof UsageError ? "" : "internal error: ") + e.getMessage();
    }

    private static int exitCode(Exception e) {
        return e instanceof UsageError || e instanceof CommandLine.ParameterException ? Wire.EXIT_USAGE : Wire.EXIT_SOFTWARE;
    }

    /** The whole command line, every command in it (the man page is made from it). */
    public static CommandLine commandLine() {
        return commandLine(null);
    }

    /**
     * The command line with only command {@code name} in it when it is one (every command
     * otherwise, for help and for what picocli suggests on a typo): picocli reflects over every
     * option of every command it is given, which took much of a client command's start.
     */
    static CommandLine commandLine(String name) {
        CommandLine cl = new CommandLine(new Main());
        boolean one = COMMANDS.containsKey(name);
        COMMANDS.forEach((n, c) -> {
            if (!one || n.equals(name)) {
                cl.addSubcommand(n, c.get());
            }
        });
        // A worker's "@file" argument is its own, not a picocli argument file to expand.
        cl.setExpandAtFiles(false);
        // picocli asks this mapper about parse errors too (its exitCodeOnInvalidInput only applies without a mapper).
        cl.setExitCodeExceptionMapper(e -> e instanceof Exception ? exitCode((Exception) e) : Wire.EXIT_SOFTWARE);
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println(failure(e));
            return exitCode(e);
        });
        return cl;
    }

    /** Bad input found after parsing (a config value, an address): exit 64 with the message. */
    public static final class UsageError extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public UsageError(String message) {
            super(message);
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"supervisor " + dev.supervisor.daemon.upgrade.Version.current() + " (Java " + Runtime.version() + ")"};
        }
    }
}
