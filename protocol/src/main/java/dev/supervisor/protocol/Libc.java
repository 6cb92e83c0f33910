package dev.supervisor.protocol;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import jnr.constants.platform.Errno;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.byref.IntByReference;

/**
 * The one native binding of the project: the libc functions the daemon and the worker library
 * call (a worker loads only its own few, {@link Calls}; the daemon all, {@link DaemonCalls}),
 * their constants, errno, and the failure every call site reports. Not part of the worker
 * API: it is public only so that the other packages and modules share it.
 *
 * <p>jnr-ffi rather than jnr-posix: a worker pays for the native glue at every start, and a
 * small interface loads in about half the time and memory of jnr-posix's.
 * Linux, LP64 only (x86_64 and aarch64 share every value below).
 */
public final class Libc {
    private Libc() {}

    /**
     * The libc functions the worker library calls. A worker loads only these: jnr-ffi generates
     * the code of every function of a binding when it loads it, at every JVM start.
     */
    public interface Calls {
        int socket(int domain, int type, int protocol);
        int connect(int fd, @In byte[] addr, int len);
        int getsockopt(int fd, int level, int name, @Out byte[] value, @In @Out int[] len);
        int getsockname(int fd, @Out byte[] addr, @In @Out int[] len);
        long sendto(int fd, @In byte[] buf, long len, int flags, @In byte[] addr, int addrlen);
        long sendmsg(int fd, Pointer msg, int flags);
        long recvmsg(int fd, Pointer msg, int flags);
        int close(int fd);
        String strerror(int errnum);
    }

    /** Every other libc function the daemon calls; nothing else touches native code. */
    public interface DaemonCalls extends Calls {
        // sockets
        int bind(int fd, @In byte[] addr, int len);
        int listen(int fd, int backlog);
        int shutdown(int fd, int how);
        int setsockopt(int fd, int level, int name, @In int[] value, int len);

        // fds
        int fcntl(int fd, int cmd, int arg);
        int pipe2(@Out int[] fds, int flags);
        long read(int fd, @Out byte[] buf, long count);
        long write(int fd, @In byte[] buf, long count);
        int poll(Pointer fds, long nfds, int timeout);
        int memfd_create(String name, int flags);
        long lseek(int fd, long offset, int whence);

        // processes
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
        int sigaddset(Pointer set, int signum);
        /** The calling thread's mask on Linux; pthread_sigmask is in libc only since glibc 2.32. */
        int sigprocmask(int how, Pointer set, Pointer oldset);
        int posix_spawnp(@Out IntByReference pid, Pointer file, Pointer fa, Pointer attr, Pointer argv, Pointer envp);
        int execve(Pointer path, Pointer argv, Pointer envp);
        int waitpid(int pid, @Out IntByReference status, int options);
        int kill(int pid, int sig);
        long signal(int signum, long handler);
        int sigaction(int signum, Pointer act, Pointer oldact);
        int prctl(int option, long arg2, long arg3, long arg4, long arg5);
        long syscall(long number, long arg1, long arg2);
        int setpriority(int which, int who, int prio);
        int getpriority(int which, int who);
        int sched_setscheduler(int pid, int policy, @In int[] param);
        int sched_getscheduler(int pid);

        // identity
        int getuid();
        int getpid();
        Pointer getpwnam(String name);
        Pointer getgrnam(String name);
    }

    public static final int AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10;
    public static final int SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_SEQPACKET = 5, SOCK_CLOEXEC = 0x80000;
    public static final int SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_TYPE = 3, SO_PASSCRED = 16, SO_PEERCRED = 17, SO_ACCEPTCONN = 30;
    public static final int IPPROTO_TCP = 6, TCP_INFO = 11, TCP_LISTEN = 10;
    public static final int IPPROTO_IPV6 = 41, IPV6_V6ONLY = 26;
    public static final int SCM_RIGHTS = 1, SCM_CREDENTIALS = 2;
    public static final int MSG_CTRUNC = 0x8, MSG_DONTWAIT = 0x40, MSG_NOSIGNAL = 0x4000, MSG_CMSG_CLOEXEC = 0x40000000;
    public static final int F_GETFD = 1, F_SETFD = 2, F_DUPFD_CLOEXEC = 1030, FD_CLOEXEC = 1;
    public static final int O_RDONLY = 0, O_CLOEXEC = 0x80000;
    public static final int POLLIN = 1, POLLERR = 0x8, POLLHUP = 0x10;
    public static final int WNOHANG = 1;
    public static final int SIGHUP = 1, SIGINT = 2, SIGKILL = 9, SIGUSR1 = 10, SIGUSR2 = 12, SIGTERM = 15;
    public static final int EPERM = 1, ENOENT = 2, EINTR = 4, EBADF = 9, ECHILD = 10, EAGAIN = 11, ENOSYS = 38, ENOTSOCK = 88, ECONNREFUSED = 111;
    public static final int SCHED_OTHER = 0, SCHED_BATCH = 3, SCHED_IDLE = 5;
    public static final int PRIO_PROCESS = 0;
    public static final int PR_SET_CHILD_SUBREAPER = 36;
    public static final long SIG_DFL = 0, SIG_IGN = 1;
    public static final int SIG_BLOCK = 0, SIG_UNBLOCK = 1, SIG_SETMASK = 2;

    /** Loads {@code type}'s binding once; a failure is kept, so that its hint is given at every use. */
    private static final class Binding<T extends Calls> {
        private final Class<T> type;
        private volatile T calls;
        private Throwable failure;

        Binding(Class<T> type) {
            this.type = type;
        }

        T get() {
            T c = calls;
            return c != null ? c : load();
        }

        boolean loaded() {
            return calls != null;
        }

        private synchronized T load() {
            if (calls == null && failure == null) {
                try {
                    calls = LibraryLoader.create(type).load("c");
                } catch (LinkageError | RuntimeException e) {
                    failure = e;
                }
            }
            if (failure != null) {
                // Kept, not rethrown as is: the first error would hide this hint later.
                throw new IllegalStateException("cannot load jnr-ffi's native library: " + failure
                        + (java.lang.Runtime.version().feature() >= 24 ? "; on JDK 24+ add the JVM flag --enable-native-access=ALL-UNNAMED" : ""),
                        failure);
            }
            return calls;
        }
    }

    private static final Binding<Calls> WORKER = new Binding<>(Calls.class);
    private static final Binding<DaemonCalls> DAEMON = new Binding<>(DaemonCalls.class);

    /** The binding: the daemon's once it is loaded (the daemon loads it first), else the worker's, loaded on first use. */
    public static Calls calls() {
        return DAEMON.loaded() ? DAEMON.get() : WORKER.get();
    }

    /** The daemon's binding, loaded on first use. */
    public static DaemonCalls daemon() {
        return DAEMON.get();
    }

    /** The jnr-ffi runtime of the bindings (the system's), for native memory and errno. */
    public static Runtime runtime() {
        return Runtime.getRuntime(calls());
    }

    /** {@code bytes} of zeroed native memory, freed when the pointer is collected. */
    public static Pointer allocate(int bytes) {
        return Memory.allocateDirect(runtime(), bytes, true);
    }

    /** The errno of the last failed call on this thread. */
    public static int errno() {
        return runtime().getLastError();
    }

    /** "EADDRINUSE (Address already in use)". */
    public static String describe(int errno) {
        Errno e = Errno.valueOf(errno);
        String name = e == null || e == Errno.__UNKNOWN_CONSTANT__ ? "errno " + errno : e.name();
        return name + " (" + calls().strerror(errno) + ")";
    }

    /** The failure of the call that just failed on this thread: "connect(/x) failed: ENOENT (...)". */
    public static NativeException failure(String call) {
        return new NativeException(call, errno());
    }

    /** {@code rc}, or the failure of {@code call} when {@code rc} is -1. */
    public static int check(int rc, String call) throws NativeException {
        if (rc == -1) {
            throw failure(call);
        }
        return rc;
    }

    /** close(2), for an fd whose owner is done with it; there is nothing to do if it fails. */
    public static void close(int fd) {
        calls().close(fd);
    }

    /** An int socket option of {@code fd}, or -1 with errno set. */
    public static int socketOption(int fd, int level, int option) {
        byte[] value = new byte[4];
        int[] len = {4};
        return calls().getsockopt(fd, level, option, value, len) == 0 ? ByteBuffer.wrap(value).order(ByteOrder.nativeOrder()).getInt() : -1;
    }

    /** The address family of {@code fd} from getsockname(2), or -1 with errno set. */
    public static int family(int fd) {
        byte[] sa = new byte[128];
        int[] len = {sa.length};
        if (calls().getsockname(fd, sa, len) != 0) {
            return -1;
        }
        return ByteBuffer.wrap(sa).order(ByteOrder.nativeOrder()).getShort(0);
    }

    /**
     * A sockaddr_un for {@code path}; a leading '@' names the abstract namespace (as
     * NOTIFY_SOCKET does), where the name is not NUL-terminated.
     *
     * @throws IllegalArgumentException when the path does not fit sun_path
     */
    public static byte[] unixAddress(String path) {
        boolean abstractName = path.startsWith("@");
        byte[] p = (abstractName ? path.substring(1) : path).getBytes(StandardCharsets.UTF_8);
        // Both forms use one byte besides the name: the abstract marker or the terminating NUL.
        if (p.length + 1 > Wire.SUN_PATH_MAX) {
            throw new IllegalArgumentException("socket path " + path + " is " + p.length + " bytes; at most "
                    + (Wire.SUN_PATH_MAX - 1) + " fit in sockaddr_un");
        }
        ByteBuffer b = ByteBuffer.allocate(2 + 1 + p.length).order(ByteOrder.nativeOrder());
        b.putShort((short) AF_UNIX);
        if (abstractName) {
            b.put((byte) 0).put(p);
            return b.array();
        }
        b.put(p).put((byte) 0);
        return b.array();
    }
}
