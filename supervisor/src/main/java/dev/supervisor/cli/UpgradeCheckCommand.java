package dev.supervisor.cli;

import java.util.concurrent.Callable;

import dev.supervisor.daemon.upgrade.State;
import dev.supervisor.daemon.upgrade.StateFile;
import dev.supervisor.daemon.upgrade.Version;
import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The pre-flight of an upgrade, run by the supervisor that would execute this installation: it
 * loads what the daemon loads and says whether it reads the state format the running one writes.
 * Prints one answer line; exit 0 when it would take over, 1 when not.
 */
@Command(name = "upgrade-check", hidden = true, description = "Check that this installation can take over a running supervisor (used by upgrade).")
public final class UpgradeCheckCommand implements Callable<Integer> {
    @Option(names = "--state-format", required = true, paramLabel = "N", description = "the state format the running supervisor writes")
    int format;

    @Override
    public Integer call() {
        String failure = null;
        try {
            Libc.daemon(); // the native binding, as the daemon loads it first
            Daemon.checkTakeOver();
            if (!StateFile.reads(format)) {
                failure = "this supervisor (" + Version.current() + ") reads state format " + State.FORMAT + ", not " + format;
            }
        } catch (RuntimeException | LinkageError | java.io.IOException e) {
            failure = e.toString();
        }
        if (failure != null) {
            System.out.println(Message.error(failure));
            return Wire.EXIT_FAILED;
        }
        System.out.println(Message.answer(true).put("version", Version.current()).put("format", State.FORMAT));
        return Wire.EXIT_OK;
    }
}
