package dev.supervisor.daemon;

import java.io.IOException;
import java.lang.reflect.Method;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.supervisor.daemon.upgrade.State;
import dev.supervisor.daemon.upgrade.Version;
import dev.supervisor.protocol.FdPassing;
import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;

/**
 * The control socket: a Unix stream socket, 0600 in a 0700 directory, JSON lines in and out
 * ({@link Message}). One thread serves every connection with a selector, so a slow or silent
 * client costs a buffer and a timeout, never a thread. Requests go to the supervisor as events;
 * answers come back here to be written.
 *
 * <p>Who may do what (SECURITY.md): the supervisor's own uid and root may send every request.
 * With --user, the directory is 0710 and the socket 0660, both of the workers' group, so that a
 * worker can reach it; the workers' uid may then ask only for {@code listeners} and
 * {@code watch}, which are answered only to a current worker's pid. Any other uid is refused.
 *
 * <p>What one client can cost: a read buffer that grows to {@link Wire#MAX_REQUEST_BYTES},
 * {@link #MAX_IN_FLIGHT} requests waiting for the supervisor and {@link #MAX_PENDING_OUT} bytes
 * of unread answers (past either, we stop reading from it until it catches up), and a slot of
 * {@link #MAX_CLIENTS} for at most {@link #IDLE_MILLIS} without progress.
 */
public final class ControlServer implements AutoCloseable {
    /** A connection that makes no progress for this long (no whole first request, half a line, answers unread) is closed. */
    static final long IDLE_MILLIS = 10_000;
    /** A connection idle between requests is closed after this long. */
    static final long KEEPALIVE_MILLIS = 60_000;
    /** Connections at once, besides the workers' watch connections; more are refused at once. */
    static final int MAX_CLIENTS = 64;
    /** Requests of one connection handed to the supervisor and not answered yet; then it is not read. */
    static final int MAX_IN_FLIGHT = 4;
    /** Unread answer bytes of one connection; then it is not read. */
    static final int MAX_PENDING_OUT = 64 * 1024;
    private static final int FIRST_BUFFER = 1024;

    private final Path path;
    private final ServerSocketChannel server;
    private final Selector selector;
    private final int ownUid;
    /** The workers' uid (--user), which may ask for listeners and watch only; -1 = none. */
    private final int workerUid;
    /** Open connections that are not watch connections of workers. */
    private int clients;
    /** Connections refused since the last log line about it (a flood logs once, not per connection). */
    private int refusedFull;
    /** Where a lingering connection's last bytes go. */
    private final ByteBuffer scratch = ByteBuffer.allocate(8192);
    private final ConcurrentLinkedQueue<Runnable> fromSupervisor = new ConcurrentLinkedQueue<>();
    /** Watch connections by worker pid; only the control thread touches it. */
    private final Map<Integer, List<SelectionKey>> watchers = new HashMap<>();
    private volatile boolean closed;
    private Supervisor supervisor;
    /** Connections the previous image handed over, taken up when the thread starts; null = none. */
    private State.ControlState adopted;
    /** The version that handed over: the answer to an `upgrade` in flight names it. */
    private String previousVersion;
    /** Non-null while frozen for an upgrade: the thread waits on it and touches no fd. */
    private volatile java.util.concurrent.CountDownLatch thaw;

    private ControlServer(Path path, ServerSocketChannel server, Selector selector, int ownUid, int workerUid) {
        this.path = path;
        this.server = server;
        this.selector = selector;
        this.ownUid = ownUid;
        this.workerUid = workerUid;
    }

    public Path path() {
        return path;
    }

    /** {@link #open(Path, ProcessWrapper.User)} without --user. */
    public static ControlServer open(Path path) throws IOException {
        return open(path, null);
    }

    /**
     * Creates the directory if needed, refuses one that others can enter, replaces a stale socket
     * and refuses a live one. Without {@code workers} (--user) the directory is 0700 and the
     * socket 0600; with it, the directory is 0710 and the socket 0660, group = the workers'.
     */
    public static ControlServer open(Path path, ProcessWrapper.User workers) throws IOException {
        int uid = Posix.libc().getuid();
        int workerGid = workers == null || workers.uid == uid ? -1 : workers.gid;
        Path dir = path.toAbsolutePath().getParent();
        privateDirectory(dir, uid, workerGid);
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
                throw new ListenerException("control socket " + path + " is in use by another supervisor", true);
            } catch (IOException stale) {
                Files.deleteIfExists(path);
            }
        }
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        restrict(path, workerGid, "rw-------", "rw-rw----");
        server.configureBlocking(false);
        Selector selector = Selector.open();
        server.register(selector, SelectionKey.OP_ACCEPT);
        if (workerGid >= 0) {
            warnIfUnreachable(dir.getParent(), workers);
        }
        return new ControlServer(path, server, selector, uid, workerGid < 0 ? -1 : workers.uid);
    }

    /** Workers must traverse every directory above ours to reach the sockets: say so at start if they cannot. */
    private static void warnIfUnreachable(Path dir, ProcessWrapper.User workers) throws IOException {
        for (Path d = dir; d != null; d = d.getParent()) {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(d);
            int owner = (Integer) Files.getAttribute(d, "unix:uid");
            int group = (Integer) Files.getAttribute(d, "unix:gid");
            boolean enters = perms.contains(PosixFilePermission.OTHERS_EXECUTE)
                    || (group == workers.gid && perms.contains(PosixFilePermission.GROUP_EXECUTE))
                    || (owner == workers.uid && perms.contains(PosixFilePermission.OWNER_EXECUTE));
            if (!enters) {
                Log.STDERR.info("warning: --user " + workers.spec + " cannot enter " + d + ": workers will not reach NOTIFY_SOCKET"
                        + " or SUPERVISOR_SOCKET (--ready notify will time out); choose a --control under a directory they can enter");
                return;
            }
        }
    }

    /**
     * The directory of the control and notify sockets: created 0700 (0710 of the workers' group
     * with --user); an existing one must be ours and closed to others: no bits for others, and
     * for the group at most x, and that only when it is the workers' group. It is then set to
     * what this run needs. The root and /tmp themselves are taken as they are: the socket's own
     * mode guards it there.
     */
    static void privateDirectory(Path dir, int uid, int workerGid) throws IOException {
        if (dir.equals(dir.getRoot()) || dir.toString().equals("/tmp")) {
            return;
        }
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } else {
            PosixFileAttributes a = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            Set<PosixFilePermission> perms = a.permissions();
            boolean others = perms.stream().anyMatch(p -> p.name().startsWith("OTHERS_"));
            boolean groupReadWrite = perms.contains(PosixFilePermission.GROUP_READ) || perms.contains(PosixFilePermission.GROUP_WRITE);
            boolean groupEnters = perms.contains(PosixFilePermission.GROUP_EXECUTE);
            int owner = (Integer) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            int group = (Integer) Files.getAttribute(dir, "unix:gid", LinkOption.NOFOLLOW_LINKS);
            if (!a.isDirectory() || owner != uid || others || groupReadWrite || (groupEnters && group != workerGid)) {
                throw new IOException("control directory " + dir + " must be a directory of mode 0700 owned by uid " + uid
                        + (workerGid >= 0 ? " (or 0710 of group " + workerGid + ", the workers')" : "")
                        + " (it is " + (a.isDirectory() ? "" : "not a directory, ") + PosixFilePermissions.toString(perms)
                        + ", owner " + owner + ", group " + group + "): choose another --control, or fix it");
            }
        }
        restrict(dir, workerGid, "rwx------", "rwx--x---");
    }

    /** Sets {@code p} to {@code own} mode, or with --user to the workers' group and {@code shared}. */
    static void restrict(Path p, int workerGid, String own, String shared) throws IOException {
        if (workerGid >= 0) {
            Files.setAttribute(p, "unix:gid", workerGid, LinkOption.NOFOLLOW_LINKS);
        }
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(workerGid >= 0 ? shared : own));
    }

    /**
     * The control socket the previous image listened on ({@code cs.serverFd}), with the
     * connections it had open; their requests in flight are answered once {@link #start}ed.
     */
    public static ControlServer adopt(Path path, State.ControlState cs, String previousVersion, ProcessWrapper.User workers)
            throws IOException {
        int uid = Posix.libc().getuid();
        int workerGid = workers == null || workers.uid == uid ? -1 : workers.gid;
        Posix.setCloexec(cs.serverFd);
        ServerSocketChannel server = InheritedChannels.unixServer(cs.serverFd);
        server.configureBlocking(false);
        Selector selector = Selector.open();
        server.register(selector, SelectionKey.OP_ACCEPT);
        ControlServer c = new ControlServer(path, server, selector, uid, workerGid < 0 ? -1 : workers.uid);
        c.adopted = cs;
        c.previousVersion = previousVersion;
        return c;
    }

    /**
     * Stops serving before the next event and returns the listening socket and every open
     * connection with what it asked and what it sent that was not read yet. Until {@link #thaw}
     * (or the exec) this thread does nothing.
     */
    public State.ControlState freeze(long timeoutMillis) {
        java.util.concurrent.CountDownLatch frozen = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicReference<State.ControlState> out = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.CountDownLatch t = new java.util.concurrent.CountDownLatch(1);
        thaw = t;
        fromSupervisor.add(() -> {
            out.set(handOver());
            frozen.countDown();
            try {
                t.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        selector.wakeup();
        try {
            if (!frozen.await(timeoutMillis, java.util.concurrent.TimeUnit.MILLISECONDS)) {
                thaw();
                throw new IllegalStateException("the control socket did not stop within " + timeoutMillis + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            thaw();
            throw new IllegalStateException("interrupted while stopping the control socket");
        }
        return out.get();
    }

    public void thaw() {
        java.util.concurrent.CountDownLatch t = thaw;
        thaw = null;
        if (t != null) {
            t.countDown();
        }
    }

    private State.ControlState handOver() {
        State.ControlState cs = new State.ControlState();
        cs.serverFd = InheritedChannels.fdOf(server);
        for (SelectionKey k : selector.keys()) {
            if (k.isValid() && k.attachment() instanceof Conn) {
                Conn c = (Conn) k.attachment();
                if (c.lingeringSince >= 0) {
                    continue; // answered for the last time: the exec closes it
                }
                State.ConnectionState st = new State.ConnectionState();
                st.fd = fdOf(c.ch);
                st.pid = c.pid;
                st.controls = c.controls;
                st.watching = c.watching;
                st.inFlight = new ArrayList<>(c.inFlight);
                byte[] unread = new byte[c.in.position()];
                c.in.get(0, unread);
                st.unread = java.util.Base64.getEncoder().encodeToString(unread);
                if (c.out != null && c.out.hasRemaining()) {
                    byte[] unwritten = new byte[c.out.remaining()];
                    c.out.get(c.out.position(), unwritten);
                    st.unwritten = java.util.Base64.getEncoder().encodeToString(unwritten);
                }
                cs.connections.add(st);
            }
        }
        return cs;
    }

    /** Takes up the handed-over connections on this thread: their unwritten answers, then their requests in flight. */
    private void takeUpAdopted() {
        State.ControlState cs = adopted;
        adopted = null;
        for (State.ConnectionState st : cs.connections) {
            try {
                Posix.setCloexec(st.fd);
                SocketChannel ch = InheritedChannels.unixConnection(st.fd);
                ch.configureBlocking(false);
                Conn c = new Conn(ch, st.pid, st.controls);
                c.requests = 1; // it was served before: idle means between requests
                byte[] unread = java.util.Base64.getDecoder().decode(st.unread);
                if (unread.length > c.in.capacity()) {
                    c.in = ByteBuffer.allocate(Math.min(Wire.MAX_REQUEST_BYTES, unread.length));
                }
                c.in.put(unread);
                SelectionKey k = ch.register(selector, SelectionKey.OP_READ, c);
                if (st.watching) {
                    c.watching = true;
                    watchers.computeIfAbsent(c.pid, p -> new ArrayList<>()).add(k);
                } else {
                    clients++;
                }
                if (!st.unwritten.isEmpty()) {
                    c.out = ByteBuffer.wrap(java.util.Base64.getDecoder().decode(st.unwritten));
                }
                for (String cmd : st.inFlight) {
                    if (cmd.equals(Message.UPGRADE)) {
                        answer(k, c, Message.answer(true).put("old", previousVersion).put("new", Version.current())
                                .put("pid", ProcessHandle.current().pid()), false);
                    } else {
                        dispatch(k, c, cmd);
                    }
                }
                processLines(k, c);
            } catch (IOException | RuntimeException e) {
                Log.STDERR.info("control socket: cannot take up connection fd " + st.fd + " of pid " + st.pid + ": " + e.getMessage());
                Posix.close(st.fd);
            }
        }
    }

    public void start(Supervisor s) {
        this.supervisor = s;
        Thread t = new Thread(this::serve, "control-socket");
        t.setDaemon(true);
        t.start();
    }

    /** What we know of one client and what it has sent of its current line. */
    private static final class Conn {
        final SocketChannel ch;
        final int pid;
        /** May send every request (our uid or root); otherwise only listeners and watch (the workers' uid). */
        final boolean controls;
        /** Grows up to {@link Wire#MAX_REQUEST_BYTES} as a long line needs it. */
        ByteBuffer in = ByteBuffer.allocate(FIRST_BUFFER);
        ByteBuffer out;
        /** Last read or written byte. */
        long lastActivity = System.currentTimeMillis();
        boolean closeAfterWrite;
        /** Bytes of {@link #in} known to hold no newline. */
        int scanned;
        /** Whole request lines read so far. */
        int requests;
        /** Requests handed to the supervisor and not answered yet. */
        int awaiting;
        /** Waits for its drain event: never idle. */
        boolean watching;
        /** The commands of {@link #awaiting}, in order: an upgrade hands them to the next image. */
        final List<String> inFlight = new ArrayList<>();
        /**
         * Answered for the last time, output shut down: what it still sends is read and dropped
         * until it closes (closing with its bytes unread would reset the connection, and the
         * client could lose the answer that says why), for at most {@link #IDLE_MILLIS}.
         */
        long lingeringSince = -1;

        Conn(SocketChannel ch, int pid, boolean controls) {
            this.ch = ch;
            this.pid = pid;
            this.controls = controls;
        }

        int pendingOut() {
            return out == null ? 0 : out.remaining();
        }
    }

    private void serve() {
        if (adopted != null) {
            takeUpAdopted();
        }
        while (!closed) {
            try {
                selector.select(1000);
                for (Runnable r; (r = fromSupervisor.poll()) != null; ) {
                    r.run();
                }
                Iterator<SelectionKey> it = selector.selectedKeys().iterator();
                while (it.hasNext()) {
                    SelectionKey k = it.next();
                    it.remove();
                    if (!k.isValid()) {
                        continue;
                    }
                    if (k.isAcceptable()) {
                        accept();
                    } else {
                        Conn c = (Conn) k.attachment();
                        try {
                            if (k.isReadable()) {
                                read(k, c);
                            }
                            if (k.isValid() && k.isWritable()) {
                                flush(k, c);
                                processLines(k, c);
                            }
                        } catch (IOException e) {
                            close(k);
                        }
                    }
                }
                sweepIdle();
            } catch (IOException | RuntimeException e) {
                if (!closed) {
                    Log.STDERR.info("control socket: " + e);
                }
            }
        }
    }

    private void accept() throws IOException {
        SocketChannel ch = server.accept();
        if (ch == null) {
            return;
        }
        ch.configureBlocking(false);
        int[] cred = Posix.peerCredentials(fdOf(ch));
        boolean controls = cred[1] == ownUid || cred[1] == 0;
        Conn c = new Conn(ch, cred[0], controls);
        SelectionKey k = ch.register(selector, SelectionKey.OP_READ, c);
        clients++;
        if (!controls && (workerUid < 0 || cred[1] != workerUid)) {
            Log.STDERR.info("control socket: refused pid " + cred[0] + " of uid " + cred[1] + " (only uid " + ownUid + " and root may connect"
                    + (workerUid >= 0 ? ", and the workers' uid " + workerUid + " for listeners and watch" : "") + ")");
            answer(k, c, Message.error("permission denied: uid " + cred[1] + " may not control this supervisor"), true);
        } else if (clients > MAX_CLIENTS) {
            if (refusedFull++ == 0) {
                Log.STDERR.info("control socket: " + MAX_CLIENTS + " clients connected: refusing more until one leaves");
            }
            answer(k, c, Message.error("too many control connections (" + MAX_CLIENTS + "): try again"), true);
        }
    }

    private void read(SelectionKey k, Conn c) throws IOException {
        if (c.lingeringSince >= 0) {
            scratch.clear();
            if (c.ch.read(scratch) < 0) {
                close(k);
            }
            return;
        }
        if (!c.in.hasRemaining() && c.in.capacity() < Wire.MAX_REQUEST_BYTES) {
            ByteBuffer bigger = ByteBuffer.allocate(Math.min(Wire.MAX_REQUEST_BYTES, c.in.capacity() * 4));
            c.in.flip();
            c.in = bigger.put(c.in);
        }
        int n = c.ch.read(c.in);
        if (n < 0) {
            close(k);
            return;
        }
        if (n > 0) {
            c.lastActivity = System.currentTimeMillis();
        }
        processLines(k, c);
    }

    /**
     * Handles the whole lines in the read buffer while the connection may have more requests in
     * flight and unread answers; the rest waits there (we stop reading) until answers go out.
     */
    private void processLines(SelectionKey k, Conn c) {
        while (k.isValid() && !c.closeAfterWrite && c.awaiting < MAX_IN_FLIGHT && c.pendingOut() < MAX_PENDING_OUT) {
            int nl = -1;
            for (int i = c.scanned; i < c.in.position(); i++) {
                if (c.in.get(i) == '\n') {
                    nl = i;
                    break;
                }
            }
            if (nl < 0) {
                c.scanned = c.in.position(); // a line sent a byte at a time is scanned once, not once per byte
                if (!c.in.hasRemaining() && c.in.capacity() >= Wire.MAX_REQUEST_BYTES) {
                    answer(k, c, Message.error("request longer than " + Wire.MAX_REQUEST_BYTES + " bytes"), true);
                }
                break;
            }
            byte[] line = new byte[nl];
            c.in.flip();
            c.in.get(line);
            c.in.get(); // the newline
            c.in.compact();
            c.scanned = 0;
            c.requests++;
            handle(k, c, new String(line, StandardCharsets.UTF_8).trim());
        }
        interest(k, c);
    }

    /** Read while the connection may send more; write while answers wait. */
    private void interest(SelectionKey k, Conn c) {
        if (!k.isValid() || c.lingeringSince >= 0) {
            return;
        }
        boolean pending = c.pendingOut() > 0;
        boolean more = !c.closeAfterWrite && c.awaiting < MAX_IN_FLIGHT && c.pendingOut() < MAX_PENDING_OUT;
        k.interestOps((pending ? SelectionKey.OP_WRITE : 0) | (more ? SelectionKey.OP_READ : 0));
    }

    private void handle(SelectionKey k, Conn c, String line) {
        String cmd;
        try {
            cmd = Message.parseRequest(line);
        } catch (IllegalArgumentException e) {
            answer(k, c, Message.error(e.getMessage()), false);
            return;
        }
        if (!c.controls && !cmd.equals(Message.LISTENERS) && !cmd.equals(Message.WATCH)) {
            Log.STDERR.info("control socket: refused " + cmd + " from pid " + c.pid + " (the workers' uid may ask for listeners and watch only)");
            answer(k, c, Message.error("permission denied: the workers' uid may not " + cmd + " this supervisor"), true);
            return;
        }
        dispatch(k, c, cmd);
    }

    private void dispatch(SelectionKey k, Conn c, String cmd) {
        if (!cmd.equals(Message.STOP)) {
            c.awaiting++;
            c.inFlight.add(cmd);
        }
        switch (cmd) {
            case Message.STATUS:
                supervisor.status(s -> fromSupervisor(k, c, cmd, Message.answer(true).set(Message.STATUS, s), false));
                break;
            case Message.RELOAD:
                supervisor.reload(r -> fromSupervisor(k, c, cmd, reloadAnswer(r), false));
                break;
            case Message.UPGRADE:
                supervisor.upgrade(error -> fromSupervisor(k, c, cmd, Message.error(error), false));
                break;
            case Message.STOP:
                answer(k, c, Message.answer(true), false);
                supervisor.stop();
                break;
            case Message.LISTENERS:
                supervisor.listenersOf(NotifySocket.ancestry(c.pid), ls -> onSupervisorAnswer(c, cmd, () -> sendListeners(k, c, ls)));
                break;
            case Message.WATCH:
                supervisor.listenersOf(NotifySocket.ancestry(c.pid), ls -> onSupervisorAnswer(c, cmd, () -> watch(k, c, ls != null)));
                break;
            default:
                throw new IllegalStateException("unhandled command " + cmd);
        }
    }

    /** Listener fds only to a current worker, checked by pid on the supervisor thread just now. */
    private void sendListeners(SelectionKey k, Conn c, List<Listener> ls) {
        if (ls == null) {
            Log.STDERR.info("control socket: refused listeners to pid " + c.pid + ": not a current worker");
            answer(k, c, Message.error("pid " + c.pid + " is not a current worker of this supervisor"), true);
            return;
        }
        ObjectNode a = Message.answer(true);
        ArrayNode names = a.putArray(Message.NAMES);
        int[] fds = new int[ls.size()];
        for (int i = 0; i < fds.length; i++) {
            names.add(ls.get(i).name());
            fds[i] = ls.get(i).fd();
        }
        try {
            // The connection is non-blocking, but the answer is small and the buffer is empty:
            // FdPassing writes it whole or fails.
            FdPassing.send(fdOf(c.ch), a.toString(), fds);
        } catch (IOException | RuntimeException e) {
            Log.STDERR.info("control socket: sending listeners to pid " + c.pid + " failed: " + e.getMessage());
            close(k);
        }
    }

    private void watch(SelectionKey k, Conn c, boolean isWorker) {
        if (!isWorker) {
            answer(k, c, Message.error("pid " + c.pid + " is not a current worker of this supervisor"), true);
            return;
        }
        if (!c.watching) { // a second watch on the same connection changes nothing
            c.watching = true;
            clients--; // a worker's watch does not take a client slot
            watchers.computeIfAbsent(c.pid, p -> new ArrayList<>()).add(k);
        }
        answer(k, c, Message.answer(true), false);
    }

    /** The supervisor told worker {@code pid} to drain; tell its watch connections. Any thread. */
    public void drained(int pid) {
        fromSupervisor.add(() -> {
            List<SelectionKey> ks = watchers.remove(pid);
            if (ks != null) {
                for (SelectionKey k : ks) {
                    answer(k, (Conn) k.attachment(), Message.json().createObjectNode().put(Message.VERSION, Wire.PROTOCOL_VERSION)
                            .put(Message.EVENT, Message.DRAIN), true);
                }
            }
        });
        selector.wakeup();
    }

    static ObjectNode reloadAnswer(ReloadResult r) {
        if (r.ok) {
            return Message.answer(true).put("generation", r.generation);
        }
        ObjectNode n = Message.error(r.error).put("generation", r.generation);
        ArrayNode lines = n.putArray("stderr");
        r.stderr.forEach(lines::add);
        return n;
    }

    /** An answer computed on the supervisor thread, written on this one. */
    private void fromSupervisor(SelectionKey k, Conn c, String cmd, ObjectNode answer, boolean close) {
        onSupervisorAnswer(c, cmd, () -> answer(k, c, answer, close));
    }

    private void onSupervisorAnswer(Conn c, String cmd, Runnable write) {
        fromSupervisor.add(() -> {
            c.awaiting--;
            c.inFlight.remove(cmd);
            write.run();
            SelectionKey k = c.ch.keyFor(selector);
            if (k != null) {
                processLines(k, c); // what waited for this answer
            }
        });
        selector.wakeup();
    }

    private void answer(SelectionKey k, Conn c, ObjectNode answer, boolean close) {
        if (!k.isValid()) {
            return;
        }
        byte[] bytes = (answer.toString() + "\n").getBytes(StandardCharsets.UTF_8);
        if (c.out == null || !c.out.hasRemaining()) {
            c.out = ByteBuffer.wrap(bytes);
        } else {
            ByteBuffer joined = ByteBuffer.allocate(c.out.remaining() + bytes.length);
            joined.put(c.out).put(bytes).flip();
            c.out = joined;
        }
        c.closeAfterWrite |= close;
        try {
            flush(k, c);
        } catch (IOException e) {
            close(k);
        }
    }

    private void flush(SelectionKey k, Conn c) throws IOException {
        if (c.out != null && c.ch.write(c.out) > 0) {
            c.lastActivity = System.currentTimeMillis();
        }
        if (c.pendingOut() == 0 && c.closeAfterWrite) {
            if (c.lingeringSince < 0) {
                c.lingeringSince = System.currentTimeMillis();
                c.ch.shutdownOutput();
            }
            k.interestOps(SelectionKey.OP_READ);
            return;
        }
        interest(k, c);
    }

    private void sweepIdle() {
        long now = System.currentTimeMillis();
        for (SelectionKey k : new ArrayList<>(selector.keys())) {
            if (k.attachment() instanceof Conn) {
                Conn c = (Conn) k.attachment();
                if (c.lingeringSince >= 0) {
                    if (now - c.lingeringSince > IDLE_MILLIS) {
                        close(k);
                    }
                    continue;
                }
                if (c.awaiting > 0 || c.watching) {
                    continue;
                }
                long idle = now - c.lastActivity;
                // silent since connecting, half a line, or answers it does not read: a slot held for nothing
                boolean stuck = c.requests == 0 || c.in.position() > 0 || c.pendingOut() > 0;
                if (idle > (stuck ? IDLE_MILLIS : KEEPALIVE_MILLIS)) {
                    close(k);
                }
            }
        }
    }

    private void close(SelectionKey k) {
        if (!k.isValid()) {
            return;
        }
        if (k.attachment() instanceof Conn) {
            Conn c = (Conn) k.attachment();
            if (c.watching) {
                List<SelectionKey> ks = watchers.get(c.pid);
                if (ks != null && ks.remove(k) && ks.isEmpty()) {
                    watchers.remove(c.pid);
                }
            } else if (--clients < MAX_CLIENTS && refusedFull > 0) {
                Log.STDERR.info("control socket: accepting clients again (" + refusedFull + " refused meanwhile)");
                refusedFull = 0;
            }
        }
        k.cancel();
        try {
            k.channel().close();
        } catch (IOException ignored) {
            // closing a client we are done with
        }
    }

    /** The fd of a JDK channel, for SO_PEERCRED (the JDK gives the uid but not the pid). */
    static int fdOf(SocketChannel ch) {
        try {
            Method m = Class.forName("sun.nio.ch.SelChImpl").getMethod("getFDVal");
            return (Integer) m.invoke(ch);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read the fd of a control connection (needs --add-opens java.base/sun.nio.ch=ALL-UNNAMED)", e);
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            selector.close();
            server.close();
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // shutting down
        }
    }
}
