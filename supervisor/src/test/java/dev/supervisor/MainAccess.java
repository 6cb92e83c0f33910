package dev.supervisor;

import picocli.CommandLine;

/** Tests: {@link Main}'s command line with one command in it, as {@code main} builds it. */
public final class MainAccess {
    private MainAccess() {}

    public static CommandLine commandLine(String name) {
        return Main.commandLine(name);
    }
}
