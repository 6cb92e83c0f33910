package dev.supervisor.daemon;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.NativeException;
import jnr.ffi.Pointer;
import jnr.ffi.byref.IntByReference;

/**
 * The daemon's system calls, on the project's one binding ({@link Libc}): what takes more than
 * one call or a struct (spawning, reaping, priorities, credentials, poll). Failures throw
 * {@link NativeException} naming the call, the object and the errno. Linux, LP64 only.
 */
public final class Posix {
    private Posix() {}

    private static final short POSIX_SPAWN_SETPGROUP = 0x02, POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08;
    private static final int SPAWN_STRUCT_BYTES = 512, SIGSET_BYTES = 128;
    /** struct sigaction is 152 bytes on x86_64 and aarch64, the handler first. */
    private static final int SIGACTION_BYTES = 256;

    /** A copy of {@code fd} at {@code minFd} or above, FD_CLOEXEC. */
    public static int dupCloexec(int fd, int minFd) throws NativeException {
        return Libc.check(Libc.daemon().fcntl(fd, Libc.F_DUPFD_CLOEXEC, minFd), "fcntl(" + fd + ", F_DUPFD_CLOEXEC)");
    }

    /** kill(2); false when the process is already gone. */
    public static boolean kill(int pid, int sig) {
        return Libc.daemon().kill(pid, sig) == 0;
    }

    /** Reaps {@code pid} if it has exited; returns its wait status, or -1 if it has not. */
    public static int reap(int pid) {
        IntByReference status = new IntByReference();
        int rc = Libc.daemon().waitpid(pid, status, Libc.WNOHANG);
        if (rc == pid) {
            return status.intValue();
        }
        return -1;
    }

    /**
     * Reaps {@code pid}, a child of ours, if it has exited: true when it is gone (reaped now, or
     * not our child any more), false while it runs.
     */
    public static boolean reapIfGone(int pid) {
        IntByReference status = new IntByReference();
        int rc = Libc.daemon().waitpid(pid, status, Libc.WNOHANG);
        return rc == pid || (rc == -1 && Libc.errno() == Libc.ECHILD);
    }

    /**
     * Makes this process a child subreaper: a descendant orphaned by its parent's exit becomes our
     * child instead of init's, so it stays in reach until we reap it.
     */
    public static void becomeSubreaper() throws NativeException {
        Libc.check(Libc.daemon().prctl(Libc.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)");
    }

    /**
     * Sets {@code signal} back to its default action if it is ignored: a disposition inherited as
     * ignored (nohup ignores HUP; a shell ignores INT for background jobs) makes the JVM refuse our
     * handler. Only an ignored one: a handler the JVM installed for itself stays.
     */
    public static void unignore(int signal) throws NativeException {
        Pointer old = Libc.allocate(SIGACTION_BYTES);
        Libc.check(Libc.daemon().sigaction(signal, null, old), "sigaction(" + signal + ")");
        if (old.getAddress(0) == Libc.SIG_IGN && Libc.daemon().signal(signal, Libc.SIG_DFL) == -1) {
            throw Libc.failure("signal(" + signal + ", SIG_DFL)");
        }
    }

    /** Dispositions of some signals and this thread's signal mask, saved by {@link #hold}. */
    public static final class SavedSignals {
        private final int[] signals;
        private final Pointer[] old;
        private Pointer mask;

        private SavedSignals(int[] signals, Pointer[] old) {
            this.signals = signals;
            this.old = old;
        }

        /** Puts the saved dispositions (the JVM's handlers) back, then the mask: what came meanwhile is delivered to them. */
        public void restore() {
            for (int i = 0; i < signals.length; i++) {
                if (old[i] != null) {
                    Libc.daemon().sigaction(signals[i], old[i], null);
                }
            }
            if (mask != null) {
                Libc.daemon().sigprocmask(Libc.SIG_SETMASK, mask, null);
            }
        }
    }

    /**
     * Holds {@code signals} for an execve(2) of this thread: blocks them in this thread, then
     * ignores them, and returns what was. Both survive the exec (a handler would be reset to the
     * default, for these: death), and a blocked signal is never discarded as ignored: one sent to
     * the new image before it handles them stays pending until it {@link #unblock}s them. (Another
     * thread of this image that has them unblocked takes and ignores one sent meanwhile.)
     */
    public static SavedSignals hold(int... signals) throws NativeException {
        Pointer[] old = new Pointer[signals.length];
        SavedSignals saved = new SavedSignals(signals, old);
        Pointer set = signalSet(signals);
        Pointer mask = Libc.allocate(SIGSET_BYTES);
        Libc.check(Libc.daemon().sigprocmask(Libc.SIG_BLOCK, set, mask), "sigprocmask(SIG_BLOCK)");
        saved.mask = mask;
        Pointer ign = Libc.allocate(SIGACTION_BYTES);
        ign.putAddress(0, Libc.SIG_IGN);
        for (int i = 0; i < signals.length; i++) {
            Pointer o = Libc.allocate(SIGACTION_BYTES);
            if (Libc.daemon().sigaction(signals[i], ign, o) != 0) {
                NativeException e = Libc.failure("sigaction(" + signals[i] + ", SIG_IGN)");
                saved.restore();
                throw e;
            }
            old[i] = o;
        }
        return saved;
    }

    /** Unblocks {@code signals} in this thread: one held pending since an upgrade's exec is delivered now. */
    public static void unblock(int... signals) throws NativeException {
        Libc.check(Libc.daemon().sigprocmask(Libc.SIG_UNBLOCK, signalSet(signals), null), "sigprocmask(SIG_UNBLOCK)");
    }

    private static Pointer signalSet(int... signals) {
        Pointer set = Libc.allocate(SIGSET_BYTES);
        Libc.daemon().sigemptyset(set);
        for (int s : signals) {
            Libc.daemon().sigaddset(set, s);
        }
        return set;
    }

    /**
     * execve(2) of {@code argv} with {@code env} in this process; returns only by throwing. Every
     * fd without FD_CLOEXEC stays open in the new image.
     */
    public static void execve(List<byte[]> argv, List<byte[]> env) throws NativeException {
        List<Pointer> keep = new ArrayList<>();
        try {
            Pointer args = cStrings(argv, keep);
            Pointer envp = cStrings(env, keep);
            Libc.daemon().execve(keep.get(0), args, envp);
            throw Libc.failure("execve(" + new String(argv.get(0), StandardCharsets.UTF_8) + ")");
        } finally {
            Reference.reachabilityFence(keep);
        }
    }

    /** An anonymous memory file (memfd_create(2)) holding {@code bytes}, read from its start; not FD_CLOEXEC. */
    public static int memfd(String name, byte[] bytes) throws NativeException {
        Libc.DaemonCalls c = Libc.daemon();
        int fd = Libc.check(c.memfd_create(name, 0), "memfd_create(" + name + ")");
        try {
            for (int off = 0; off < bytes.length; ) {
                byte[] chunk = off == 0 ? bytes : java.util.Arrays.copyOfRange(bytes, off, bytes.length);
                long n = c.write(fd, chunk, chunk.length);
                if (n < 0) {
                    throw Libc.failure("write(" + name + ")");
                }
                off += (int) n;
            }
            if (c.lseek(fd, 0, 0) != 0) {
                throw Libc.failure("lseek(" + name + ")");
            }
            return fd;
        } catch (NativeException e) {
            Libc.close(fd);
            throw e;
        }
    }

    /** Reads {@code fd} to its end, at most {@code max} bytes (more is an error naming {@code what}). */
    public static byte[] readAll(int fd, int max, String what) throws NativeException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        byte[] buf = new byte[64 * 1024];
        while (true) {
            long n = Libc.daemon().read(fd, buf, buf.length);
            if (n < 0) {
                if (Libc.errno() == Libc.EINTR) {
                    continue;
                }
                throw Libc.failure("read(" + what + ")");
            }
            if (n == 0) {
                return out.toByteArray();
            }
            if (out.size() + n > max) {
                throw new NativeException("read(" + what + ") past " + max + " bytes", 27); // EFBIG
            }
            out.write(buf, 0, (int) n);
        }
    }

    /** Sets the nice value of thread {@code tid}; false when it is gone or may not be changed. */
    public static boolean setNice(int tid, int nice) {
        return Libc.daemon().setpriority(Libc.PRIO_PROCESS, tid, nice) == 0;
    }

    /** The nice value of thread {@code tid} (-20..19); -1 also when it is gone (callers compare with 19). */
    public static int getNice(int tid) {
        return Libc.daemon().getpriority(Libc.PRIO_PROCESS, tid);
    }

    /** The scheduling policy of thread {@code tid}, or -1 when it is gone. */
    public static int schedPolicy(int tid) {
        return Libc.daemon().sched_getscheduler(tid);
    }

    /** Puts thread {@code tid} under {@code policy} (priority 0); false when it is gone or may not be changed. */
    public static boolean setSchedPolicy(int tid, int policy) {
        return Libc.daemon().sched_setscheduler(tid, policy, new int[] {0}) == 0;
    }

    /**
     * The wait of a thread that reads a changing set of fds: poll(2) for input on the read end
     * of its wake pipe and on {@code fds}, with no timeout. Drains the wake pipe, and says which
     * of {@code fds} are ready (input, hang-up or error); none when the wait was interrupted or
     * failed (ENOMEM), so that the caller, which must go on, looks again.
     */
    public static boolean[] awaitInput(int wake, int[] fds) {
        boolean[] ready = new boolean[fds.length];
        Pointer p = Libc.allocate(8 * (fds.length + 1)); // struct pollfd: int fd, short events, short revents
        for (int i = 0; i <= fds.length; i++) {
            p.putInt(8L * i, i == 0 ? wake : fds[i - 1]);
            p.putShort(8L * i + 4, (short) Libc.POLLIN);
        }
        if (Libc.daemon().poll(p, fds.length + 1, -1) < 0) {
            return ready;
        }
        if (p.getShort(6) != 0) {
            Libc.daemon().read(wake, new byte[64], 64);
        }
        for (int i = 0; i < fds.length; i++) {
            ready[i] = p.getShort(8L * (i + 1) + 6) != 0;
        }
        return ready;
    }

    /** A pipe whose both ends are FD_CLOEXEC: {read, write}. */
    public static int[] pipe() throws NativeException {
        int[] fds = new int[2];
        Libc.check(Libc.daemon().pipe2(fds, Libc.O_CLOEXEC), "pipe2()");
        return fds;
    }

    /** uid and pid of the peer of a connected Unix socket: {pid, uid, gid}. */
    public static int[] peerCredentials(int fd) throws NativeException {
        byte[] ucred = new byte[12];
        int[] len = {12};
        Libc.check(Libc.daemon().getsockopt(fd, Libc.SOL_SOCKET, Libc.SO_PEERCRED, ucred, len), "getsockopt(" + fd + ", SO_PEERCRED)");
        ByteBuffer b = ByteBuffer.wrap(ucred).order(ByteOrder.nativeOrder());
        return new int[] {b.getInt(0), b.getInt(4), b.getInt(8)};
    }

    /**
     * The accept queue of TCP listening socket {@code fd}: {length, limit}, what {@code ss -lnt}
     * shows as Recv-Q and Send-Q (on a LISTEN socket, TCP_INFO's tcpi_unacked and tcpi_sacked
     * hold them); null when {@code fd} is not a listening TCP socket.
     */
    public static int[] acceptQueue(int fd) {
        // struct tcp_info: u8 tcpi_state at 0, ..., u32 tcpi_unacked at 24, u32 tcpi_sacked at 28
        byte[] info = new byte[32];
        int[] len = {info.length};
        if (Libc.daemon().getsockopt(fd, Libc.IPPROTO_TCP, Libc.TCP_INFO, info, len) != 0 || len[0] < 32 || info[0] != Libc.TCP_LISTEN) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(info).order(ByteOrder.nativeOrder());
        return new int[] {b.getInt(24), b.getInt(28)};
    }

    /** {uid, gid} of user {@code name}, or null when there is no such user. */
    public static int[] user(String name) {
        Pointer pw = Libc.daemon().getpwnam(name);
        return pw == null ? null : new int[] {pw.getInt(16), pw.getInt(20)};
    }

    /** The gid of group {@code name}, or -1 when there is no such group. */
    public static int group(String name) {
        Pointer gr = Libc.daemon().getgrnam(name);
        return gr == null ? -1 : gr.getInt(16);
    }

    /** Makes an inherited fd FD_CLOEXEC, so that only dups of it reach workers. */
    public static void setCloexec(int fd) throws NativeException {
        Libc.check(Libc.daemon().fcntl(fd, Libc.F_SETFD, Libc.FD_CLOEXEC), "fcntl(" + fd + ", F_SETFD, FD_CLOEXEC)");
    }

    /** Clears FD_CLOEXEC: {@code fd} stays open in the image an execve(2) starts. */
    public static void clearCloexec(int fd) throws NativeException {
        Libc.check(Libc.daemon().fcntl(fd, Libc.F_SETFD, 0), "fcntl(" + fd + ", F_SETFD, 0)");
    }

    /**
     * posix_spawnp(3) of {@code argv} with {@code env}: the child gets {@code fds[i]} on fd
     * {@code i} for every i with {@code fds[i] >= 0}, /dev/null on fd 0 when {@code fds[0] < 0},
     * every other fd closed, its own process group, default signal dispositions and an empty
     * signal mask. Returns the child's pid.
     */
    public static int spawn(List<byte[]> argv, List<byte[]> env, int[] fds) throws NativeException {
        Libc.DaemonCalls c = Libc.daemon();
        Pointer fa = Libc.allocate(SPAWN_STRUCT_BYTES);
        Pointer attr = Libc.allocate(SPAWN_STRUCT_BYTES);
        Pointer sigs = Libc.allocate(SIGSET_BYTES);
        c.posix_spawn_file_actions_init(fa);
        c.posix_spawnattr_init(attr);
        List<Pointer> keep = new ArrayList<>();
        try {
            // Targets 0..n-1 may hold sources of later dup2s; the caller passes sources at or
            // above n (see Spawner), so no dup2 clobbers another's source.
            for (int i = 0; i < fds.length; i++) {
                if (fds[i] >= 0) {
                    spawnCheck(c.posix_spawn_file_actions_adddup2(fa, fds[i], i), "posix_spawn_file_actions_adddup2");
                } else if (i == 0) {
                    spawnCheck(c.posix_spawn_file_actions_addopen(fa, 0, "/dev/null", Libc.O_RDONLY, 0), "posix_spawn_file_actions_addopen");
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
            // Bytes, not Strings: jnr would encode a String in the JVM's charset, which under LANG=C
            // turns every non-ASCII byte into '?'.
            Pointer args = cStrings(argv, keep);
            Pointer envp = cStrings(env, keep);
            IntByReference pid = new IntByReference();
            int rc = c.posix_spawnp(pid, keep.get(0), fa, attr, args, envp);
            if (rc != 0) {
                throw new NativeException("posix_spawnp(" + new String(argv.get(0), StandardCharsets.UTF_8) + ")", rc);
            }
            return pid.intValue();
        } finally {
            // The child reads argv and envp from our memory until it has exec'd: keep them until here.
            Reference.reachabilityFence(keep);
            c.posix_spawnattr_destroy(attr);
            c.posix_spawn_file_actions_destroy(fa);
        }
    }

    /**
     * A NULL-terminated array of C strings holding {@code strings}; every block allocated is added
     * to {@code keep}, which the caller holds until the call that reads them returns.
     */
    private static Pointer cStrings(List<byte[]> strings, List<Pointer> keep) {
        Pointer array = Libc.allocate((strings.size() + 1) * Long.BYTES);
        for (int i = 0; i < strings.size(); i++) {
            byte[] b = strings.get(i);
            Pointer p = Libc.allocate(b.length + 1); // zeroed: the NUL is there
            p.put(0, b, 0, b.length);
            keep.add(p);
            array.putAddress((long) i * Long.BYTES, p.address());
        }
        array.putAddress((long) strings.size() * Long.BYTES, 0L);
        keep.add(array);
        return array;
    }

    private static void spawnCheck(int rc, String call) throws NativeException {
        if (rc != 0) {
            throw new NativeException(call, rc);
        }
    }
}
