package dev.supervisor.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "run", mixinStandardHelpOptions = true, description = {"Bind the listeners once and run COMMAND as workers on them (LISTEN_FDS, fds 3..).",
        "HUP reloads; TERM or INT stops gracefully, a second one at once."})
public final class RunCommand implements Callable<Integer> {
    @Mixin
    RunOptions options;

    @Parameters(paramLabel = "COMMAND", arity = "0..*", description = "the worker command and its arguments, after --")
    List<String> command = new ArrayList<>();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        List<String> args = spec.root().commandLine().getParseResult().originalArgs();
        return new Daemon(options, options.flags(CommandBytes.of(args, command)), CommandBytes.mainArgs(args)).run();
    }
}
