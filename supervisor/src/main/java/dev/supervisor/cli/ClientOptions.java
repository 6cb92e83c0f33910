package dev.supervisor.cli;

import java.nio.file.Path;

import picocli.CommandLine.Option;

/** --control, shared by every command that talks to a running supervisor. */
public final class ClientOptions {
    @Option(names = "--control", paramLabel = "PATH",
            description = "control socket (default $SUPERVISOR_CONTROL, else $XDG_RUNTIME_DIR/supervisor-UID/supervisor.sock, or under /tmp without XDG_RUNTIME_DIR)")
    Path control;

    Path path() {
        return ControlPath.resolve(control, System.getenv());
    }
}
