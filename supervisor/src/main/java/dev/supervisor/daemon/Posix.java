package dev.supervisor.daemon;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Map;

import dev.supervisor.protocol.Libc;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.byref.IntByReference;

/**
 * Every native call of the daemon, through one small jnr-ffi binding of libc (jnr-posix would
 * cost ~100 ms and ~15 MiB more at start-up; see NOTES-jvm.md). Failures throw
 * {@link NativeException} naming the call, the object and the errno. Linux, LP64 only.
 */
public final class Posix {
    private Posix() {}

    /** The libc functions we call; nothing else in the daemon touches native code. */
    public interface LibC {
        int posix_spawn_file_actions_init(Pointer fa);
        int posix_spawn_file_actions_destroy(Pointer fa);
        int posix_spawn_file_actions_adddup2(Pointer fa, int fd, int newfd);
        int posix_spawn_file_actions_addopen(Pointer fa, int fd, String path, int oflag, int mode);
        int posix_spawn_file_actions_addclosefrom_np(Pointer fa, int from);
        int posix_spawnattr_init(Pointer attr);
        int posix_spawnattr_destroy(Pointer attr);
        int posix_spawnattr_setflags(Pointer attr, short flags);
        int posix_spawnattr_setpgroup(Pointer attr, int pgroup);
        int posix_spawnattr_setsigmask(Pointer attr, Pointer set);
        int posix_spawnattr_setsigdefault(Pointer attr, Pointer set);
        int sigemptyset(Pointer set);
        int sigfillset(Pointer set);
        int posix_spawnp(@Out IntByReference pid, String file, Pointer fa, Pointer attr, String[] argv, String[] envp);

        int fcntl(int fd, int cmd, int arg);
        int close(int fd);
        int kill(int pid, int sig);
        int setpriority(int which, int who, int prio);
        int getpriority(int which, int who);
        int sched_setscheduler(int pid, int policy, @In int[] param);
        int sched_getscheduler(int pid);
        int waitpid(int pid, @Out IntByReference status, int options);
        int pipe2(@Out int[] fds, int flags);
        long read(int fd, @Out byte[] buf, long count);
        long write(int fd, @In byte[] buf, long count);

        int socket(int domain, int type, int protocol);
        int setsockopt(int fd, int level, int name, @In int[] value, int len);
        int getsockopt(int fd, int level, int name, @Out byte[] value, IntByReference len);
        int bind(int fd, @In byte[] addr, int len);
        int listen(int fd, int backlog);
        int getsockname(int fd, @Out byte[] addr, IntByReference len);
        long recvmsg(int fd, Pointer msg, int flags);
        long sendto(int fd, @In byte[] buf, long len, int flags, @In byte[] addr, int addrlen);
        int shutdown(int fd, int how);
        int poll(Pointer fds, long nfds, int timeout);

        Pointer getpwnam(String name);
        Pointer getgrnam(String name);
        int getuid();
        int getpid();
    }

    // Linux x86_64/aarch64 constants.
    public static final int AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10;
    public static final int SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_CLOEXEC = 0x80000;
    public static final int SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_TYPE = 3, SO_PASSCRED = 16, SO_PEERCRED = 17;
    public static final int IPPROTO_IPV6 = 41, IPV6_V6ONLY = 26;
    public static final int SCM_CREDENTIALS = 2;
    public static final int F_GETFD = 1, F_SETFD = 2, F_DUPFD_CLOEXEC = 1030, FD_CLOEXEC = 1;
    public static final int O_RDONLY = 0, O_CLOEXEC = 0x80000;
    public static final int WNOHANG = 1;
    public static final int POLLIN = 1, POLLHUP = 0x10, POLLERR = 0x8;
    public static final int MSG_DONTWAIT = 0x40;
    public static final int SIGHUP = 1, SIGINT = 2, SIGKILL = 9, SIGTERM = 15;
    public static final int EINTR = 4, ECONNREFUSED = 111, ENOENT = 2, EAGAIN = 11;
    public static final int SCHED_OTHER = 0, SCHED_BATCH = 3, SCHED_IDLE = 5;
    private static final int PRIO_PROCESS = 0;
    private static final short POSIX_SPAWN_SETPGROUP = 0x02, POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08;
    private static final int SPAWN_STRUCT_BYTES = 512, SIGSET_BYTES = 128;

    private static final class Holder {
        static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
        static final Runtime RUNTIME = Runtime.getRuntime(LIBC);
    }

    public static LibC libc() {
        return Holder.LIBC;
    }

    static Runtime runtime() {
        return Holder.RUNTIME;
    }

    /** The errno of the last failed call on this thread. */
    public static int errno() {
        return Holder.RUNTIME.getLastError();
    }

    /** "EADDRINUSE (Address already in use)". */
    public static String describe(int errno) {
        return Libc.describe(errno);
    }

    /** Throws when {@code rc} is -1, naming {@code call} and the errno. */
    static int check(int rc, String call) {
        if (rc == -1) {
            throw new NativeException(call, errno());
        }
        return rc;
    }

    public static void close(int fd) {
        Holder.LIBC.close(fd);
    }

    /** A copy of {@code fd} at {@code minFd} or above, FD_CLOEXEC. */
    public static int dupCloexec(int fd, int minFd) {
        return check(Holder.LIBC.fcntl(fd, F_DUPFD_CLOEXEC, minFd), "fcntl(" + fd + ", F_DUPFD_CLOEXEC)");
    }

    /** kill(2); false when the process is already gone. */
    public static boolean kill(int pid, int sig) {
        return Holder.LIBC.kill(pid, sig) == 0;
    }

    /** Reaps {@code pid} if it has exited; returns its wait status, or -1 if it has not. */
    public static int reap(int pid) {
        IntByReference status = new IntByReference();
        int rc = Holder.LIBC.waitpid(pid, status, WNOHANG);
        if (rc == pid) {
            return status.intValue();
        }
        return -1;
    }

    /** Sets the nice value of thread {@code tid}; false when it is gone or may not be changed. */
    public static boolean setNice(int tid, int nice) {
        return Holder.LIBC.setpriority(PRIO_PROCESS, tid, nice) == 0;
    }

    /** The nice value of thread {@code tid} (-20..19); -1 also when it is gone (callers compare with 19). */
    public static int getNice(int tid) {
        return Holder.LIBC.getpriority(PRIO_PROCESS, tid);
    }

    /** The scheduling policy of thread {@code tid}, or -1 when it is gone. */
    public static int schedPolicy(int tid) {
        return Holder.LIBC.sched_getscheduler(tid);
    }

    /** Puts thread {@code tid} under {@code policy} (priority 0); false when it is gone or may not be changed. */
    public static boolean setSchedPolicy(int tid, int policy) {
        return Holder.LIBC.sched_setscheduler(tid, policy, new int[] {0}) == 0;
    }

    /** A pipe whose both ends are FD_CLOEXEC: {read, write}. */
    public static int[] pipe() {
        int[] fds = new int[2];
        check(Holder.LIBC.pipe2(fds, O_CLOEXEC), "pipe2()");
        return fds;
    }

    /** uid and pid of the peer of a connected Unix socket: {pid, uid, gid}. */
    public static int[] peerCredentials(int fd) {
        byte[] ucred = new byte[12];
        IntByReference len = new IntByReference(12);
        check(Holder.LIBC.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ucred, len), "getsockopt(" + fd + ", SO_PEERCRED)");
        ByteBuffer b = ByteBuffer.wrap(ucred).order(ByteOrder.nativeOrder());
        return new int[] {b.getInt(0), b.getInt(4), b.getInt(8)};
    }

    /** A sockaddr_un for {@code path}; a leading '@' names the abstract namespace, as systemd does. */
    public static byte[] sockaddrUnix(String path) {
        return Libc.unixAddress(path);
    }

    /** {uid, gid} of user {@code name}, or null when there is no such user. */
    public static int[] user(String name) {
        Pointer pw = Holder.LIBC.getpwnam(name);
        return pw == null ? null : new int[] {pw.getInt(16), pw.getInt(20)};
    }

    /** The gid of group {@code name}, or -1 when there is no such group. */
    public static int group(String name) {
        Pointer gr = Holder.LIBC.getgrnam(name);
        return gr == null ? -1 : gr.getInt(16);
    }

    /** Makes an inherited fd FD_CLOEXEC, so that only dups of it reach workers. */
    public static void setCloexec(int fd) {
        check(Holder.LIBC.fcntl(fd, F_SETFD, FD_CLOEXEC), "fcntl(" + fd + ", F_SETFD, FD_CLOEXEC)");
    }

    public static Pointer allocate(int bytes) {
        return Memory.allocateDirect(Holder.RUNTIME, bytes, true);
    }

    /**
     * posix_spawnp(3) of {@code argv} with {@code env}: the child gets {@code fds[i]} on fd
     * {@code i} for every i with {@code fds[i] >= 0}, /dev/null on fd 0 when {@code fds[0] < 0},
     * every other fd closed, its own process group, default signal dispositions and an empty
     * signal mask. Returns the child's pid.
     */
    public static int spawn(List<String> argv, Map<String, String> env, int[] fds) {
        LibC c = Holder.LIBC;
        Pointer fa = allocate(SPAWN_STRUCT_BYTES);
        Pointer attr = allocate(SPAWN_STRUCT_BYTES);
        Pointer sigs = allocate(SIGSET_BYTES);
        c.posix_spawn_file_actions_init(fa);
        c.posix_spawnattr_init(attr);
        try {
            // Targets 0..n-1 may hold sources of later dup2s; the caller passes sources at or
            // above n (see Spawner), so no dup2 clobbers another's source.
            for (int i = 0; i < fds.length; i++) {
                if (fds[i] >= 0) {
                    spawnCheck(c.posix_spawn_file_actions_adddup2(fa, fds[i], i), "posix_spawn_file_actions_adddup2");
                } else if (i == 0) {
                    spawnCheck(c.posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0), "posix_spawn_file_actions_addopen");
                }
            }
            spawnCheck(c.posix_spawn_file_actions_addclosefrom_np(fa, fds.length), "posix_spawn_file_actions_addclosefrom_np");
            c.sigemptyset(sigs);
            spawnCheck(c.posix_spawnattr_setsigmask(attr, sigs), "posix_spawnattr_setsigmask");
            c.sigfillset(sigs);
            spawnCheck(c.posix_spawnattr_setsigdefault(attr, sigs), "posix_spawnattr_setsigdefault");
            spawnCheck(c.posix_spawnattr_setpgroup(attr, 0), "posix_spawnattr_setpgroup");
            spawnCheck(c.posix_spawnattr_setflags(attr, (short) (POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)),
                    "posix_spawnattr_setflags");
            String[] args = argv.toArray(new String[argv.size() + 1]);
            String[] envp = new String[env.size() + 1];
            int k = 0;
            for (Map.Entry<String, String> e : env.entrySet()) {
                envp[k++] = e.getKey() + "=" + e.getValue();
            }
            IntByReference pid = new IntByReference();
            int rc = c.posix_spawnp(pid, argv.get(0), fa, attr, args, envp);
            if (rc != 0) {
                throw new NativeException("posix_spawnp(" + argv.get(0) + ")", rc);
            }
            return pid.intValue();
        } finally {
            c.posix_spawnattr_destroy(attr);
            c.posix_spawn_file_actions_destroy(fa);
        }
    }

    private static void spawnCheck(int rc, String call) {
        if (rc != 0) {
            throw new NativeException(call, rc);
        }
    }
}
