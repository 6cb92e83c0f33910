package dev.supervisor.daemon;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.IntPredicate;

/**
 * As PID 1 (a container's init) every orphan in the namespace becomes our child: reap the ones
 * that are not our workers, which their own exit hooks reap. A scan of /proc, never
 * waitpid(-1), which would steal our workers' statuses from the supervisor thread.
 */
final class OrphanReaper implements Runnable {
    private static final long PERIOD_MILLIS = 200;
    private final IntPredicate isWorker;

    private OrphanReaper(IntPredicate isWorker) {
        this.isWorker = isWorker;
    }

    /** Starts the reaper when this process is PID 1; otherwise does nothing. */
    static void startIfInit(IntPredicate isWorker) {
        if (ProcessHandle.current().pid() != 1) {
            return;
        }
        Thread t = new Thread(new OrphanReaper(isWorker), "orphan-reaper");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void run() {
        while (true) {
            try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
                for (Path p : procs) {
                    int pid = Integer.parseInt(p.getFileName().toString());
                    if (!isWorker.test(pid) && isZombieChild(p)) {
                        Posix.reap(pid);
                    }
                }
                Thread.sleep(PERIOD_MILLIS);
            } catch (IOException | RuntimeException e) {
                // a process that went away mid-scan; scan again
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static boolean isZombieChild(Path proc) {
        try {
            String stat = Files.readString(proc.resolve("stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return f[0].equals("Z") && f[1].equals("1");
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
