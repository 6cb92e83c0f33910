package dev.supervisor.protocol;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

import jnr.constants.platform.Errno;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;

/**
 * Every native call of the protocol module, through a small jnr-ffi binding of libc. Not part of
 * the worker API: it is public only so that {@code dev.supervisor.worker} can share it.
 *
 * <p>jnr-ffi rather than jnr-posix: a worker pays for the native glue at every start, and a
 * small interface loads in about half the time and memory of jnr-posix's.
 * Linux, LP64 only, like the daemon.
 */
public final class Libc {
    private Libc() {}

    /** The libc functions the protocol side calls; nothing else in it touches native code. */
    public interface Calls {
        int socket(int domain, int type, int protocol);
        int connect(int fd, @In byte[] addr, int len);
        long sendto(int fd, @In byte[] buf, long len, int flags, @In byte[] addr, int addrlen);
        long sendmsg(int fd, Pointer msg, int flags);
        long recvmsg(int fd, Pointer msg, int flags);
        int getsockopt(int fd, int level, int name, @Out int[] value, @In @Out int[] len);
        int getsockname(int fd, @Out byte[] addr, @In @Out int[] len);
        int close(int fd);
        String strerror(int errnum);
    }

    // Linux x86_64/aarch64 values.
    public static final int AF_UNIX = 1, AF_INET = 2, AF_INET6 = 10;
    public static final int SOCK_STREAM = 1, SOCK_DGRAM = 2, SOCK_SEQPACKET = 5, SOCK_CLOEXEC = 0x80000;
    public static final int SOL_SOCKET = 1, SO_TYPE = 3, SO_ACCEPTCONN = 30, SCM_RIGHTS = 1;
    public static final int MSG_CTRUNC = 0x8, MSG_NOSIGNAL = 0x4000, MSG_CMSG_CLOEXEC = 0x40000000;
    public static final int EINTR = 4, EBADF = 9, ENOTSOCK = 88;

    private static final class Holder {
        static final Calls CALLS;
        static final Runtime RUNTIME;
        static final Throwable FAILURE;

        static {
            Calls calls = null;
            Runtime runtime = null;
            Throwable failure = null;
            try {
                calls = LibraryLoader.create(Calls.class).load("c");
                runtime = Runtime.getRuntime(calls);
            } catch (LinkageError | RuntimeException e) {
                failure = e;
            }
            CALLS = calls;
            RUNTIME = runtime;
            FAILURE = failure;
        }
    }

    /** The binding, loaded on first use. */
    public static Calls calls() {
        if (Holder.FAILURE != null) {
            // Kept, not rethrown as is: a class initializer's error would hide this hint later.
            throw new IllegalStateException("cannot load jnr-ffi's native library: " + Holder.FAILURE
                    + (java.lang.Runtime.version().feature() >= 24 ? "; on JDK 24+ add the JVM flag --enable-native-access=ALL-UNNAMED" : ""),
                    Holder.FAILURE);
        }
        return Holder.CALLS;
    }

    /** The jnr-ffi runtime of the binding, for native memory. */
    public static Runtime runtime() {
        calls();
        return Holder.RUNTIME;
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

    /** An IOException for the call that just failed on this thread: "connect(/x) failed: ENOENT (...)". */
    public static IOException failure(String call) {
        return new IOException(call + " failed: " + describe(errno()));
    }

    /** close(2), for an fd whose owner is done with it; there is nothing to do if it fails. */
    public static void close(int fd) {
        calls().close(fd);
    }

    /** An int socket option of {@code fd} (SOL_SOCKET level), or -1 with errno set. */
    public static int socketOption(int fd, int option) {
        int[] value = new int[1];
        int[] len = {4};
        return calls().getsockopt(fd, SOL_SOCKET, option, value, len) == 0 ? value[0] : -1;
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
