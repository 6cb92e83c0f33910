package dev.supervisor.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "run", mixinStandardHelpOptions = true, description = {"Bind the listeners once and run COMMAND as workers on them (LISTEN_FDS, fds 3..).",
        "HUP reloads; TERM or INT stops gracefully, a second one at once."})
public final class RunCommand implements Callable<Integer> {
    @Mixin
    RunOptions options;

    @Parameters(paramLabel = "COMMAND", arity = "0..*", description = "the worker command and its arguments, after --")
    List<String> command = new ArrayList<>();

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        return new Daemon(options, options.flags(command), spec.commandLine().getParseResult().originalArgs()).run();
    }
}
