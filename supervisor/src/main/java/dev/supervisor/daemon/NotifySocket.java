package dev.supervisor.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import jnr.ffi.Pointer;

/**
 * The supervisor's NOTIFY_SOCKET: an AF_UNIX datagram socket with SO_PASSCRED, so that the kernel
 * tells us the sender's pid and a message can be attributed to a worker, or to a worker's own
 * child (gunicorn's workers). One thread reads it and hands each message to the supervisor.
 * Owns its fd from {@link #open} until {@link #close}.
 */
public final class NotifySocket implements AutoCloseable {
    private static final int MAX_MESSAGE = 4096;
    private static final int CONTROL_BYTES = 512;
    private static final int SCM_RIGHTS = 1;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    private static final int MAX_ANCESTRY = 8;

    private final int fd;
    private final Path path;
    private final AtomicBoolean closed = new AtomicBoolean();

    private NotifySocket(int fd, Path path) {
        this.fd = fd;
        this.path = path;
    }

    public Path path() {
        return path;
    }

    /**
     * Binds {@code path}: mode 0600, or with {@code workers} (--user) 0620 of the workers' group,
     * so that workers can send to it. Who sent what is told by the kernel (SCM_CREDENTIALS), and
     * only a worker's or its descendants' messages count, so others in that group gain nothing.
     */
    public static NotifySocket open(Path path, ProcessWrapper.User workers) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            throw new IllegalStateException("cannot remove old " + path + ": " + e.getMessage());
        }
        Posix.LibC c = Posix.libc();
        int fd = Posix.check(c.socket(Posix.AF_UNIX, Posix.SOCK_DGRAM | Posix.SOCK_CLOEXEC, 0), "socket(AF_UNIX, SOCK_DGRAM)");
        try {
            byte[] sa = Posix.sockaddrUnix(path.toString());
            Posix.check(c.bind(fd, sa, sa.length), "bind(" + path + ")");
            Posix.check(c.setsockopt(fd, Posix.SOL_SOCKET, Posix.SO_PASSCRED, new int[] {1}, 4), "setsockopt(" + path + ", SO_PASSCRED)");
            int workerGid = workers == null || workers.uid == c.getuid() ? -1 : workers.gid;
            ControlServer.restrict(path, workerGid, "rw-------", "rw--w----");
            return new NotifySocket(fd, path);
        } catch (IOException e) {
            Posix.close(fd);
            throw new IllegalStateException("cannot set the mode of " + path + ": " + e.getMessage());
        } catch (RuntimeException e) {
            Posix.close(fd);
            throw e;
        }
    }

    /** The socket the previous supervisor image bound at {@code path}, kept open across the exec as {@code fd}. */
    public static NotifySocket adopt(int fd, Path path) {
        Posix.setCloexec(fd);
        return new NotifySocket(fd, path);
    }

    /** For the upgrade state: the fd the next image takes up. */
    public int fd() {
        return fd;
    }

    /** Reads messages on a daemon thread until closed, passing each to {@code supervisor}. */
    public void start(Supervisor supervisor) {
        Thread t = new Thread(() -> readLoop(supervisor), "notify-socket");
        t.setDaemon(true);
        t.start();
    }

    private void readLoop(Supervisor supervisor) {
        Posix.LibC c = Posix.libc();
        Pointer data = Posix.allocate(MAX_MESSAGE);
        Pointer control = Posix.allocate(CONTROL_BYTES);
        Pointer iov = Posix.allocate(16);
        Pointer msg = Posix.allocate(56);
        byte[] bytes = new byte[MAX_MESSAGE];
        while (!closed.get()) {
            iov.putPointer(0, data);
            iov.putLong(8, MAX_MESSAGE);
            msg.putLong(0, 0); // msg_name
            msg.putInt(8, 0);
            msg.putPointer(16, iov);
            msg.putLong(24, 1);
            msg.putPointer(32, control);
            msg.putLong(40, CONTROL_BYTES);
            msg.putInt(48, 0);
            long n = c.recvmsg(fd, msg, MSG_CMSG_CLOEXEC);
            if (n < 0) {
                if (closed.get()) {
                    return;
                }
                continue; // EINTR, or a message too big for the buffer
            }
            long received = System.nanoTime();
            long pid = senderPid(control, msg.getLong(40));
            if (pid <= 0) {
                continue;
            }
            data.get(0, bytes, 0, (int) n);
            supervisor.notify(pid, new String(bytes, 0, (int) n, StandardCharsets.UTF_8), received);
        }
    }

    /** The pid in SCM_CREDENTIALS; closes any fds a sender slipped in with SCM_RIGHTS. */
    private static long senderPid(Pointer control, long controlLen) {
        long pid = -1;
        long off = 0;
        while (off + 16 <= controlLen) {
            long len = control.getLong(off);
            int level = control.getInt(off + 8);
            int type = control.getInt(off + 12);
            if (len < 16) {
                break;
            }
            if (level == Posix.SOL_SOCKET && type == Posix.SCM_CREDENTIALS) {
                pid = control.getInt(off + 16);
            } else if (level == Posix.SOL_SOCKET && type == SCM_RIGHTS) {
                for (long p = off + 16; p + 4 <= off + len; p += 4) {
                    Posix.close(control.getInt(p));
                }
            }
            off += (len + 7) & ~7L;
        }
        return pid;
    }

    /** {@code pid}, its parent, its parent's parent ... as /proc says, at most 8 deep. */
    static long[] ancestry(long pid) {
        List<Long> chain = new ArrayList<>();
        long p = pid;
        while (p > 1 && chain.size() < MAX_ANCESTRY) {
            chain.add(p);
            p = parentOf(p);
        }
        return chain.stream().mapToLong(Long::longValue).toArray();
    }

    private static long parentOf(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[1]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            // shutdown wakes the reader blocked in recvmsg; then the fd is ours to close
            Posix.libc().shutdown(fd, 2);
            Posix.close(fd);
            try {
                Files.deleteIfExists(path);
            } catch (IOException ignored) {
                // left in a private directory; replaced by the next run
            }
        }
    }
}
