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
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;

import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.supervisor.daemon.upgrade.State;

import dev.supervisor.protocol.FdPassing;
import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;

/**
 * The control socket's transport: a Unix stream socket served by one thread with a selector, so
 * a slow or silent client costs a buffer and a timeout, never a thread. It frames JSON lines,
 * applies back-pressure and limits, and hands each line to {@link ControlRequests}; answers
 * computed on the supervisor thread come back here to be written.
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
    /**
     * Connections served at once, besides the workers' watch connections. A request on one beyond
     * them is answered busy (but a worker's listeners and watch); beyond twice as many a connection
     * is answered busy and closed as it is accepted.
     */
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
    /** The workers' uid (--user); -1 = none. */
    private final int workerUid;
    /** Open connections that are not watch connections of workers. */
    private int clients;
    /** Connections refused since the last log line about it (a flood logs once, not per connection). */
    private int refusedFull;
    /** Where a lingering connection's last bytes go. */
    private final ByteBuffer scratch = ByteBuffer.allocate(8192);
    private final ConcurrentLinkedQueue<Runnable> fromSupervisor = new ConcurrentLinkedQueue<>();
    private volatile boolean closed;
    private ControlRequests requests;
    /** Stops the serving thread for an upgrade's hand-over. */
    private final Pause pause = new Pause();
    /** Connections the previous image handed over, taken up by {@link #start}. */
    private List<State.ConnectionState> handedOver = List.of();

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
     * Prepares the directory ({@link ControlDirectory}), replaces a stale socket and refuses a
     * live one, binds and restricts the socket.
     */
    public static ControlServer open(Path path, ProcessWrapper.User workers) throws IOException {
        int uid = Libc.daemon().getuid();
        int workerGid = ControlDirectory.workerGid(workers, uid);
        Path dir = path.toAbsolutePath().getParent();
        ControlDirectory.prepare(dir, uid, workerGid);
        ControlDirectory.claim(path);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        ControlDirectory.restrictControlSocket(path, workerGid);
        server.configureBlocking(false);
        Selector selector = Selector.open();
        server.register(selector, SelectionKey.OP_ACCEPT);
        if (workerGid >= 0) {
            String warning = ControlDirectory.unreachable(dir.getParent(), workers);
            if (warning != null) {
                Log.STDERR.info(warning);
            }
        }
        return new ControlServer(path, server, selector, uid, workerGid < 0 ? -1 : workers.uid);
    }

    /**
     * The control socket the previous image handed over, at {@code path}, with its open connections
     * ({@link #start} takes them up).
     */
    public static ControlServer adopt(Path path, ProcessWrapper.User workers, State.ControlState handed) throws IOException {
        int uid = Libc.daemon().getuid();
        int workerGid = ControlDirectory.workerGid(workers, uid);
        ServerSocketChannel server = InheritedChannels.unixServer(handed.serverFd);
        server.configureBlocking(false);
        Selector selector = Selector.open();
        server.register(selector, SelectionKey.OP_ACCEPT);
        ControlServer c = new ControlServer(path, server, selector, uid, workerGid < 0 ? -1 : workers.uid);
        c.handedOver = handed.connections;
        return c;
    }

    /** Throws what {@link #adopt} would for want of the JDK internals it uses (an upgrade's pre-flight). */
    public static void checkAdoption() throws IOException {
        InheritedChannels.check();
    }

    /**
     * Serves on a daemon thread until closed, asking {@code supervisor} for what requests need.
     * Connections handed over by the previous image come first: their unwritten answers, then their
     * requests in flight (an {@code upgrade} among them gets {@code upgraded}), then what they sent since.
     */
    public void start(Control supervisor, ObjectNode upgraded) {
        this.requests = new ControlRequests(supervisor, ownUid, workerUid, Log.STDERR);
        for (State.ConnectionState cs : handedOver) {
            try {
                takeUp(cs, supervisor, upgraded);
            } catch (IOException | RuntimeException e) {
                Log.STDERR.info("control socket: cannot take up the connection of pid " + cs.pid + " (fd " + cs.fd + "): " + e.getMessage());
                Libc.close(cs.fd);
            }
        }
        handedOver = List.of();
        Thread t = new Thread(this::serve, "control-socket");
        t.setDaemon(true);
        t.start();
    }

    /** {@link #start(Control, ObjectNode)} for a control socket of our own. */
    public void start(Control supervisor) {
        start(supervisor, null);
    }

    private void takeUp(State.ConnectionState cs, Control supervisor, ObjectNode upgraded) throws IOException {
        SocketChannel ch = InheritedChannels.unixConnection(cs.fd);
        ch.configureBlocking(false);
        Conn c = new Conn(ch, cs.pid, ControlRequests.Access.valueOf(cs.access));
        c.key = ch.register(selector, SelectionKey.OP_READ, c);
        clients++;
        if (cs.unwritten.length > 0) {
            c.out = ByteBuffer.wrap(cs.unwritten);
        }
        c.closeAfterWrite = cs.closeAfterWrite;
        if (cs.watching > 0) {
            requests.rewatch(c, cs.watching);
        }
        for (String line : cs.inFlight) {
            String cmd;
            try {
                cmd = Message.parseRequest(line);
            } catch (IllegalArgumentException e) {
                cmd = null; // it was answered with its error already
            }
            if (Message.UPGRADE.equals(cmd) && upgraded != null) {
                // Answered once the supervisor has taken over: an upgrade that says ok has happened.
                c.current = line;
                Consumer<Runnable> later = c.awaitSupervisor();
                supervisor.afterTakeOver(() -> later.accept(() -> write(c, upgraded.deepCopy(), false)));
            } else if (cmd != null) {
                c.current = line;
                requests.handle(c, line);
            }
        }
        c.in = ByteBuffer.allocate(Math.max(FIRST_BUFFER, cs.unread.length)).put(cs.unread);
        processLines(c);
    }

    /**
     * Stops serving between two rounds, at most {@code millis} to get there, and returns the
     * control socket and every open connection as the next image takes them; connections only
     * lingering after their last answer are left to close with this image. The supervisor thread
     * calls it, and {@link #thaw} if the exec fails.
     *
     * @throws IOException when the serving thread did not stop in time (then it serves on)
     */
    public State.ControlState freeze(long millis) throws IOException {
        pause.request();
        selector.wakeup();
        try {
            if (!pause.awaitParked(millis)) {
                pause.resume();
                throw new IOException("the control socket's thread did not stop within " + millis + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            pause.resume();
            throw new IOException("interrupted while stopping the control socket's thread");
        }
        State.ControlState cs = new State.ControlState();
        cs.serverFd = fdOf(server);
        for (SelectionKey k : selector.keys()) {
            if (k.isValid() && k.attachment() instanceof Conn) {
                Conn c = (Conn) k.attachment();
                if (c.lingeringSince >= 0) {
                    continue;
                }
                State.ConnectionState s = new State.ConnectionState();
                s.fd = fdOf(c.ch);
                s.pid = c.pid;
                s.access = c.access.name();
                s.watching = requests.watched(c);
                s.closeAfterWrite = c.closeAfterWrite;
                s.inFlight = new ArrayList<>(c.inFlight);
                s.unread = Arrays.copyOf(c.in.array(), c.in.position());
                if (c.out != null && c.out.hasRemaining()) {
                    s.unwritten = Arrays.copyOfRange(c.out.array(), c.out.arrayOffset() + c.out.position(), c.out.arrayOffset() + c.out.limit());
                }
                cs.connections.add(s);
            }
        }
        return cs;
    }

    /** After a failed exec: serve on. */
    public void thaw() {
        pause.resume();
    }

    /** What we know of one client and what it has sent of its current line. */
    private final class Conn implements ControlRequests.Client {
        final SocketChannel ch;
        final int pid;
        final ControlRequests.Access access;
        SelectionKey key;
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
        /** Accepted while {@link #MAX_CLIENTS} others were connected, and none has left since its last request. */
        boolean overLimit;
        /** The request line being handled, and those handed to the supervisor and not answered yet, in order. */
        String current;
        final List<String> inFlight = new ArrayList<>();
        /**
         * Answered for the last time, output shut down: what it still sends is read and dropped
         * until it closes (closing with its bytes unread would reset the connection, and the
         * client could lose the answer that says why), for at most {@link #IDLE_MILLIS}.
         */
        long lingeringSince = -1;

        Conn(SocketChannel ch, int pid, ControlRequests.Access access) {
            this.ch = ch;
            this.pid = pid;
            this.access = access;
        }

        int pendingOut() {
            return out == null ? 0 : out.remaining();
        }

        @Override
        public int pid() {
            return pid;
        }

        @Override
        public ControlRequests.Access access() {
            return access;
        }

        @Override
        public void answer(ObjectNode answer, boolean close) {
            write(this, answer, close);
        }

        @Override
        public void answerWithFds(ObjectNode answer, int[] fds) {
            try {
                // The connection is non-blocking, but the answer is small and the buffer is empty:
                // FdPassing writes it whole or fails.
                FdPassing.send(fdOf(ch), answer.toString(), fds);
            } catch (IOException | RuntimeException e) {
                Log.STDERR.info("control socket: sending listeners to pid " + pid + " failed: " + e.getMessage());
                ControlServer.this.close(key);
            } finally {
                for (int fd : fds) {
                    Libc.close(fd);
                }
            }
        }

        @Override
        public Consumer<Runnable> awaitSupervisor() {
            awaiting++;
            String line = current;
            inFlight.add(line);
            return onTransport -> {
                fromSupervisor.add(() -> {
                    awaiting--;
                    inFlight.remove(line);
                    onTransport.run();
                    if (key.isValid()) {
                        processLines(this); // what waited for this answer
                    }
                });
                selector.wakeup();
            };
        }

        @Override
        public void watching() {
            if (!watching) {
                watching = true;
                clients--; // a worker's watch does not take a client slot
            }
        }
    }

    private void serve() {
        while (!closed) {
            pause.checkpoint();
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
                                read(c);
                            }
                            if (k.isValid() && k.isWritable()) {
                                flush(c);
                                processLines(c);
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
        ControlRequests.Access access = requests.access(cred[1]);
        Conn c = new Conn(ch, cred[0], access);
        c.key = ch.register(selector, SelectionKey.OP_READ, c);
        clients++;
        if (access == ControlRequests.Access.REFUSED) {
            write(c, requests.refuse(cred[0], cred[1]), true);
        } else if (clients > 2 * MAX_CLIENTS) {
            refuseBusy(c); // a flood: no fd is held for it
        } else if (clients > MAX_CLIENTS) {
            c.overLimit = true; // refused at its first request unless that is a worker's (processLines)
        }
    }

    private void refuseBusy(Conn c) {
        if (refusedFull++ == 0) {
            Log.STDERR.info("control socket: " + MAX_CLIENTS + " clients connected: refusing more until one leaves");
        }
        write(c, Message.error("too many control connections (" + MAX_CLIENTS + "): try again").put(Message.BUSY, true), true);
    }

    /**
     * Whether a request on a connection over the client limit is refused as busy: all but a
     * worker's {@code listeners} and {@code watch}, which a starting generation needs whatever
     * else is connected (a malformed line gets its own error).
     */
    private boolean busy(Conn c, String line) {
        if (c.overLimit && clients <= MAX_CLIENTS) {
            c.overLimit = false; // others left since it connected
        }
        if (!c.overLimit) {
            return false;
        }
        try {
            String cmd = Message.parseRequest(line);
            return !cmd.equals(Message.LISTENERS) && !cmd.equals(Message.WATCH);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private void read(Conn c) throws IOException {
        if (c.lingeringSince >= 0) {
            scratch.clear();
            if (c.ch.read(scratch) < 0) {
                close(c.key);
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
            close(c.key);
            return;
        }
        if (n > 0) {
            c.lastActivity = System.currentTimeMillis();
        }
        processLines(c);
    }

    /**
     * Handles the whole lines in the read buffer while the connection may have more requests in
     * flight and unread answers; the rest waits there (we stop reading) until answers go out.
     */
    private void processLines(Conn c) {
        SelectionKey k = c.key;
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
                    write(c, Message.error("request longer than " + Wire.MAX_REQUEST_BYTES + " bytes"), true);
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
            c.current = new String(line, StandardCharsets.UTF_8).trim();
            if (busy(c, c.current)) {
                refuseBusy(c);
                break;
            }
            requests.handle(c, c.current);
        }
        interest(c);
    }

    /** Read while the connection may send more; write while answers wait. */
    private void interest(Conn c) {
        SelectionKey k = c.key;
        if (!k.isValid() || c.lingeringSince >= 0) {
            return;
        }
        boolean pending = c.pendingOut() > 0;
        boolean more = !c.closeAfterWrite && c.awaiting < MAX_IN_FLIGHT && c.pendingOut() < MAX_PENDING_OUT;
        k.interestOps((pending ? SelectionKey.OP_WRITE : 0) | (more ? SelectionKey.OP_READ : 0));
    }

    /** The supervisor told worker {@code pid} to drain; tell its watch connections. Any thread. */
    public void drained(int pid) {
        fromSupervisor.add(() -> requests.drained(pid));
        selector.wakeup();
    }

    private void write(Conn c, ObjectNode answer, boolean close) {
        if (!c.key.isValid()) {
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
            flush(c);
        } catch (IOException e) {
            close(c.key);
        }
    }

    private void flush(Conn c) throws IOException {
        if (c.out != null && c.ch.write(c.out) > 0) {
            c.lastActivity = System.currentTimeMillis();
        }
        if (c.pendingOut() == 0 && c.closeAfterWrite) {
            if (c.lingeringSince < 0) {
                c.lingeringSince = System.currentTimeMillis();
                c.ch.shutdownOutput();
            }
            c.key.interestOps(SelectionKey.OP_READ);
            return;
        }
        interest(c);
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
                requests.closed(c);
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
    static int fdOf(java.nio.channels.SelectableChannel ch) {
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
