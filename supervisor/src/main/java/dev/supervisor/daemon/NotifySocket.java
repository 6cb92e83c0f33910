package dev.supervisor.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.MsgHdr;
import dev.supervisor.protocol.NativeException;

import jnr.ffi.Pointer;

/**
 * The workers' NOTIFY_SOCKETs: one AF_UNIX datagram socket per worker, so that the socket a
 * message arrives on says which worker spoke, even when the sender was a helper that has exited
 * since (its pid then names no process). SO_PASSCRED tells the sender's uid: only the workers'
 * user, ours and root count. One thread reads every socket; a socket is bound by {@link #add}
 * (before its worker is spawned) and closed, after what is queued on it was read, by
 * {@link Endpoint#close} (once its worker is reaped).
 */
public final class NotifySocket implements AutoCloseable {
    private static final int MAX_MESSAGE = 4096;
    private static final int CONTROL_BYTES = 512;
    private static final int MAX_ANCESTRY = 8;

    /** What a worker's socket received: the text, when it was read, and the sender's pid. */
    public interface Receiver {
        void message(String text, long receivedNanos, long senderPid);
    }

    /** One worker's socket; owns its fd until the reader thread closes it. */
    public final class Endpoint {
        final Path path;
        final int fd;
        final Receiver receiver;
        private final AtomicBoolean closing = new AtomicBoolean();

        private Endpoint(Path path, int fd, Receiver receiver) {
            this.path = path;
            this.fd = fd;
            this.receiver = receiver;
        }

        /** NOTIFY_SOCKET for the worker. */
        public String path() {
            return path.toString();
        }

        /** Whether {@link #close} was called: its fd is not ours to hand over any more. */
        boolean closing() {
            return closing.get();
        }

        /** Removes the socket's file (a closed socket's, at an upgrade's hand-over); its fd stays the reader's. */
        void unlink() {
            try {
                Files.deleteIfExists(path);
            } catch (IOException ignored) {
                // left in the private directory; replaced by the next run
            }
        }

        /** Reads what is queued, then closes and unlinks the socket, on the reader thread. */
        public void close() {
            if (closing.compareAndSet(false, true)) {
                closed.add(this);
                if (pause.requested()) {
                    unlink(); // an upgrade's hand-over: the reader may never run again to do it
                }
                wake();
            }
        }
    }

    private final Path dir;
    private final String prefix;
    private final int workerGid;
    private final int workerUid;
    private final int ownUid = Libc.daemon().getuid();
    private final Log log;
    private final AtomicLong seq = new AtomicLong();
    private final int[] wake;
    private final ConcurrentLinkedQueue<Endpoint> added = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Endpoint> closed = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean stopped = new AtomicBoolean();
    /** The sockets being read; the reader thread's, and after it stopped {@link #close}'s. */
    private final List<Endpoint> open = new ArrayList<>();
    private Thread reader;
    private final Pause pause = new Pause();

    private NotifySocket(Path dir, String prefix, ProcessWrapper.User workers, Log log) throws NativeException {
        this.wake = Posix.pipe();
        this.dir = dir;
        this.prefix = prefix;
        boolean other = workers != null && workers.uid != ownUid;
        this.workerGid = other ? workers.gid : -1;
        this.workerUid = other ? workers.uid : ownUid;
        this.log = log;
    }

    /**
     * The sockets go in {@code dir} (the control socket's private directory) as
     * {@code PREFIX-N.sock}: mode 0600, or with {@code workers} (--user) 0620 of the workers'
     * group, so that workers can send to them.
     */
    public static NotifySocket open(Path dir, String prefix, ProcessWrapper.User workers, Log log) throws NativeException {
        return new NotifySocket(dir, prefix, workers, log);
    }

    /** Starts the reader thread; sockets added before are read from then on. */
    public void start() {
        reader = new Thread(this::readLoop, "notify-socket");
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Binds a new socket whose messages go to {@code receiver}.
     *
     * @throws IOException naming what failed (socket, bind, the socket file's mode): nothing is left open
     */
    public Endpoint add(Receiver receiver) throws IOException {
        Path path = dir.resolve(prefix + "-" + seq.incrementAndGet() + ".sock");
        Files.deleteIfExists(path);
        Libc.DaemonCalls c = Libc.daemon();
        int fd = Libc.check(c.socket(Libc.AF_UNIX, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0), "socket(AF_UNIX, SOCK_DGRAM)");
        try {
            byte[] sa = Libc.unixAddress(path.toString());
            Libc.check(c.bind(fd, sa, sa.length), "bind(" + path + ")");
            Libc.check(c.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_PASSCRED, new int[] {1}, 4), "setsockopt(" + path + ", SO_PASSCRED)");
            ControlDirectory.restrictNotifySocket(path, workerGid);
        } catch (IOException | RuntimeException e) {
            Libc.close(fd);
            Files.deleteIfExists(path);
            throw e;
        }
        Endpoint ep = new Endpoint(path, fd, receiver);
        added.add(ep);
        wake();
        return ep;
    }

    /** Stops reading (what is unread stays queued on the sockets), at most {@code millis} to get there; false if it did not. */
    boolean pause(long millis) throws InterruptedException {
        pause.request();
        wake();
        return pause.awaitParked(millis);
    }

    void resume() {
        pause.resume();
    }

    /** Sockets named so far: an upgrade's next image goes on from there, so that no name is used twice. */
    long named() {
        return seq.get();
    }

    /** The previous image named {@code n} sockets. */
    void namedBefore(long n) {
        seq.set(Math.max(seq.get(), n));
    }

    /** A worker's socket the previous image bound, read from now on like one {@link #add} bound. */
    Endpoint adopt(String path, int fd, Receiver receiver) {
        Endpoint ep = new Endpoint(Path.of(path), fd, receiver);
        added.add(ep);
        wake();
        return ep;
    }

    private void wake() {
        Libc.daemon().write(wake[1], new byte[] {1}, 1);
    }

    private void readLoop() {
        Message m = new Message();
        while (!stopped.get()) {
            pause.checkpoint();
            for (Endpoint e; (e = added.poll()) != null; ) {
                open.add(e);
            }
            for (Endpoint e; (e = closed.poll()) != null; ) {
                while (receive(e, m, Libc.MSG_DONTWAIT)) {
                    // what the worker sent before it was reaped still counts
                }
                open.remove(e);
                release(e);
            }
            int[] fds = new int[open.size()];
            for (int i = 0; i < fds.length; i++) {
                fds[i] = open.get(i).fd;
            }
            boolean[] ready = Posix.awaitInput(wake[0], fds);
            for (int i = 0; i < open.size(); i++) {
                if (ready[i]) {
                    receive(open.get(i), m, Libc.MSG_DONTWAIT);
                }
            }
        }
    }

    /** One datagram from {@code e}'s socket, if one is there; false when none was. */
    private boolean receive(Endpoint e, Message m, int flags) {
        long n = m.receive(e.fd, flags);
        if (n < 0) {
            return false;
        }
        long received = System.nanoTime();
        String text = new String(m.bytes, 0, (int) n, StandardCharsets.UTF_8);
        long[] cred = m.credentials();
        if (cred == null || (cred[1] != workerUid && cred[1] != ownUid && cred[1] != 0)) {
            log.info("ignored a notify message on " + e.path + " from "
                    + (cred == null ? "a sender without credentials" : "pid " + cred[0] + " of uid " + cred[1])
                    + " (only uid " + workerUid + (workerUid != ownUid ? ", " + ownUid : "") + " and root count): "
                    + text.strip().replace('\n', ' '));
            return true;
        }
        e.receiver.message(text, received, cred[0]);
        return true;
    }

    /** recvmsg(2) buffers, reused for every datagram. */
    private static final class Message {
        final Pointer data = Libc.allocate(MAX_MESSAGE);
        final MsgHdr msg = new MsgHdr(CONTROL_BYTES);
        final byte[] bytes = new byte[MAX_MESSAGE];

        long receive(int fd, int flags) {
            long n = msg.data(data, 0, MAX_MESSAGE).receive(fd, flags | Libc.MSG_CMSG_CLOEXEC);
            if (n >= 0) {
                data.get(0, bytes, 0, (int) n);
            }
            return n;
        }

        /** {pid, uid} from SCM_CREDENTIALS, or null; closes any fds a sender slipped in with SCM_RIGHTS. */
        long[] credentials() {
            long[] cred = null;
            for (MsgHdr.Cmsg m : msg.controlMessages()) {
                if (m.level() != Libc.SOL_SOCKET) {
                    continue;
                }
                int[] v = m.ints();
                if (m.type() == Libc.SCM_CREDENTIALS && v.length >= 2) {
                    cred = new long[] {v[0], Integer.toUnsignedLong(v[1])};
                } else if (m.type() == Libc.SCM_RIGHTS) {
                    for (int fd : v) {
                        Libc.close(fd);
                    }
                }
            }
            return cred;
        }
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

    /** Stops the reader; the sockets of workers still running are closed and unlinked. */
    @Override
    public void close() {
        if (stopped.compareAndSet(false, true)) {
            wake();
            try {
                if (reader != null) {
                    reader.join(2000);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (reader == null || !reader.isAlive()) {
                open.addAll(added);
                open.forEach(NotifySocket::release);
                open.clear();
                Libc.close(wake[0]);
                Libc.close(wake[1]);
            }
        }
    }

    private static void release(Endpoint e) {
        Libc.close(e.fd);
        try {
            Files.deleteIfExists(e.path);
        } catch (IOException ignored) {
            // left in the private directory; replaced by the next run
        }
    }
}
