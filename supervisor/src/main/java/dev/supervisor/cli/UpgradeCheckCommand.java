package dev.supervisor.cli;

import java.util.concurrent.Callable;

import dev.supervisor.daemon.upgrade.PreFlight;
import dev.supervisor.daemon.upgrade.State;
import dev.supervisor.daemon.upgrade.StateReader;
import dev.supervisor.daemon.upgrade.Version;
import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The check mode a running supervisor runs a new installation in before it executes it: load
 * what the daemon loads (its classes, the native binding), accept the state format, answer one
 * JSON line on stdout.
 */
@Command(name = PreFlight.COMMAND, hidden = true, description = "Check that this installation can take over a running supervisor.")
public final class UpgradeCheckCommand implements Callable<Integer> {
    /** Classes the daemon needs at once after the exec; loading them proves the jars are whole. */
    private static final String[] DAEMON_CLASSES = {"dev.supervisor.daemon.Supervisor", "dev.supervisor.daemon.ControlServer",
        "dev.supervisor.daemon.NotifySocket", "dev.supervisor.daemon.PosixSpawner", "dev.supervisor.daemon.OutputPump",
        "dev.supervisor.daemon.Reexec", "dev.supervisor.daemon.InheritedChannels", "dev.supervisor.daemon.upgrade.StateReader",
        "dev.supervisor.protocol.FdPassing"};

    @Option(names = PreFlight.FORMAT_OPTION, required = true, paramLabel = "N", description = "the state format the running supervisor writes")
    int format;

    @Override
    public Integer call() throws Exception {
        for (String c : DAEMON_CLASSES) {
            Class.forName(c);
        }
        int pid = dev.supervisor.daemon.Posix.libc().getpid(); // the native binding loads
        if (pid != ProcessHandle.current().pid()) {
            System.out.println(Message.error("the native binding reports pid " + pid + ", the JDK " + ProcessHandle.current().pid()));
            return Wire.EXIT_SOFTWARE;
        }
        if (!StateReader.reads(format)) {
            System.out.println(Message.error("this installation (" + Version.current() + ") reads state format " + State.FORMAT
                    + ", the running supervisor writes " + format).put("version", Version.current()));
            return Wire.EXIT_RELOAD_FAILED;
        }
        System.out.println(Message.answer(true).put("version", Version.current()).put("format", State.FORMAT));
        return Wire.EXIT_OK;
    }
}
