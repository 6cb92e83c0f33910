package dev.supervisor.daemon;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.NativeException;

/**
 * Learns that workers exited: one thread polls a pidfd per worker (pidfd_open(2), Linux 5.3+) and
 * runs the worker's exit hook once it has exited. Reaping stays the loop's, by pid. One thread for
 * every worker, where the JDK's ProcessHandle.onExit keeps a thread per process; that is the
 * fallback where pidfd_open is refused (an older kernel, a seccomp filter).
 */
final class ExitWatch implements Runnable {
    private static final long SYS_PIDFD_OPEN = 434; // x86_64 and aarch64 alike

    private record Watch(int pidfd, Runnable onExit) {}

    private final ConcurrentLinkedQueue<Watch> added = new ConcurrentLinkedQueue<>();
    private final int[] wake;
    /** The watch thread's. */
    private final List<Watch> watches = new ArrayList<>();
    private volatile boolean pidfds = true;
    private final Log log;

    private ExitWatch(Log log) throws NativeException {
        this.wake = Posix.pipe();
        this.log = log;
    }

    static ExitWatch start(Log log) throws NativeException {
        ExitWatch w = new ExitWatch(log);
        Thread t = new Thread(w, "exit-watch");
        t.setDaemon(true);
        t.start();
        return w;
    }

    /** Runs {@code onExit}, on another thread, once our child {@code pid} has exited (before it is reaped). */
    void watch(int pid, Runnable onExit) {
        if (pidfds) {
            int fd = (int) Libc.daemon().syscall(SYS_PIDFD_OPEN, pid, 0);
            if (fd >= 0) {
                added.add(new Watch(fd, onExit));
                Libc.daemon().write(wake[1], new byte[] {1}, 1);
                return;
            }
            int errno = Libc.errno();
            if (errno == Libc.ENOSYS || errno == Libc.EPERM) {
                // The kernel (or a seccomp filter) has no pidfds for us: not now, not later.
                pidfds = false;
                log.info(new NativeException("pidfd_open(" + pid + ")", errno).getMessage()
                        + "; learning of exits from a JDK thread per worker instead");
            }
            // Otherwise (EMFILE, ENOMEM, ...) only this worker is watched the JDK's way.
        }
        ProcessHandle.of(pid).ifPresentOrElse(h -> h.onExit().thenRun(onExit), onExit);
    }

    @Override
    public void run() {
        while (true) {
            for (Watch w; (w = added.poll()) != null; ) {
                watches.add(w);
            }
            int[] fds = new int[watches.size()];
            for (int i = 0; i < fds.length; i++) {
                fds[i] = watches.get(i).pidfd;
            }
            boolean[] ready = Posix.awaitInput(wake[0], fds);
            // From the end, so that removing one leaves the indices of those before it as polled.
            for (int i = watches.size() - 1; i >= 0; i--) {
                if (ready[i]) {
                    Watch w = watches.remove(i);
                    Libc.close(w.pidfd);
                    try {
                        w.onExit.run();
                    } catch (Throwable t) { // this thread carries every worker's exit: it must go on
                        log.info("internal error in an exit hook: " + t);
                    }
                }
            }
        }
    }
}
