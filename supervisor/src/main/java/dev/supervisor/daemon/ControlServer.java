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

import dev.supervisor.protocol.FdPassing;
import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;

/**
 * The control socket: a Unix stream socket, 0600 in a 0700 directory, JSON lines in and out
 * ({@link Message}). One thread serves every connection with a selector, so a slow or silent
 * client costs a buffer and a timeout, never a thread. Requests go to the supervisor as events;
 * answers come back here to be written.
 */
public final class ControlServer implements AutoCloseable {
    /** A connection that has not sent a whole request in this time is closed. */
    static final long IDLE_MILLIS = 10_000;

    private final Path path;
    private final ServerSocketChannel server;
    private final Selector selector;
    private final int ownUid;
    private final ConcurrentLinkedQueue<Runnable> fromSupervisor = new ConcurrentLinkedQueue<>();
    /** Watch connections by worker pid; only the control thread touches it. */
    private final Map<Integer, List<SelectionKey>> watchers = new HashMap<>();
    private volatile boolean closed;
    private Supervisor supervisor;

    private ControlServer(Path path, ServerSocketChannel server, Selector selector, int ownUid) {
        this.path = path;
        this.server = server;
        this.selector = selector;
        this.ownUid = ownUid;
    }

    public Path path() {
        return path;
    }

    /**
     * Creates the directory (0700) if needed, refuses one that others can enter, replaces a
     * stale socket and refuses a live one.
     */
    public static ControlServer open(Path path) throws IOException {
        int uid = Posix.libc().getuid();
        Path dir = path.toAbsolutePath().getParent();
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } else {
            PosixFileAttributes a = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            Set<PosixFilePermission> perms = a.permissions();
            boolean shared = dir.equals(path.toAbsolutePath().getRoot()) || dir.toString().equals("/tmp");
            if (!a.isDirectory() || (!shared && (perms.stream().anyMatch(p -> p.name().startsWith("GROUP_") || p.name().startsWith("OTHERS_"))
                    || ownerUid(dir) != uid))) {
                throw new IOException("control directory " + dir + " must be a directory of mode 0700 owned by uid " + uid
                        + " (it is " + PosixFilePermissions.toString(perms) + ", owner " + a.owner().getName() + ")");
            }
        }
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
                throw new ListenerException("control socket " + path + " is in use by another supervisor", true);
            } catch (IOException stale) {
                Files.deleteIfExists(path);
            }
        }
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        server.configureBlocking(false);
        Selector selector = Selector.open();
        server.register(selector, SelectionKey.OP_ACCEPT);
        return new ControlServer(path, server, selector, uid);
    }

    private static int ownerUid(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
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
        final ByteBuffer in = ByteBuffer.allocate(Wire.MAX_REQUEST_BYTES);
        ByteBuffer out;
        long lastActivity = System.currentTimeMillis();
        boolean closeAfterWrite;
        /** Requests handed to the supervisor and not answered yet. */
        int awaiting;
        /** Waits for its drain event: never idle. */
        boolean watching;

        Conn(SocketChannel ch, int pid) {
            this.ch = ch;
            this.pid = pid;
        }
    }

    private void serve() {
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
        Conn c = new Conn(ch, cred[0]);
        SelectionKey k = ch.register(selector, SelectionKey.OP_READ, c);
        if (cred[1] != ownUid && cred[1] != 0) {
            Log.STDERR.info("control socket: refused pid " + cred[0] + " of uid " + cred[1] + " (only uid " + ownUid + " and root may connect)");
            answer(k, c, Message.error("permission denied: uid " + cred[1] + " may not control this supervisor"), true);
        }
    }

    private void read(SelectionKey k, Conn c) throws IOException {
        int n = c.ch.read(c.in);
        if (n < 0) {
            close(k);
            return;
        }
        c.lastActivity = System.currentTimeMillis();
        while (true) {
            int nl = -1;
            for (int i = 0; i < c.in.position(); i++) {
                if (c.in.get(i) == '\n') {
                    nl = i;
                    break;
                }
            }
            if (nl < 0) {
                if (!c.in.hasRemaining()) {
                    answer(k, c, Message.error("request longer than " + Wire.MAX_REQUEST_BYTES + " bytes"), true);
                }
                return;
            }
            byte[] line = new byte[nl];
            c.in.flip();
            c.in.get(line);
            c.in.get(); // the newline
            c.in.compact();
            handle(k, c, new String(line, StandardCharsets.UTF_8).trim());
            if (c.closeAfterWrite) {
                return;
            }
        }
    }

    private void handle(SelectionKey k, Conn c, String line) {
        String cmd;
        try {
            cmd = Message.parseRequest(line);
        } catch (IllegalArgumentException e) {
            answer(k, c, Message.error(e.getMessage()), false);
            return;
        }
        switch (cmd) {
            case Message.STATUS:
                c.awaiting++;
                supervisor.status(s -> fromSupervisor(k, c, Message.answer(true).set(Message.STATUS, s), false));
                break;
            case Message.RELOAD:
                c.awaiting++;
                supervisor.reload(r -> fromSupervisor(k, c, reloadAnswer(r), false));
                break;
            case Message.STOP:
                answer(k, c, Message.answer(true), false);
                supervisor.stop();
                break;
            case Message.LISTENERS:
                c.awaiting++;
                supervisor.listenersOf(NotifySocket.ancestry(c.pid), ls -> onSupervisorAnswer(c, () -> sendListeners(k, c, ls)));
                break;
            case Message.WATCH:
                c.awaiting++;
                supervisor.listenersOf(NotifySocket.ancestry(c.pid), ls -> onSupervisorAnswer(c, () -> watch(k, c, ls != null)));
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
        c.watching = true;
        watchers.computeIfAbsent(c.pid, p -> new ArrayList<>()).add(k);
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
    private void fromSupervisor(SelectionKey k, Conn c, ObjectNode answer, boolean close) {
        onSupervisorAnswer(c, () -> answer(k, c, answer, close));
    }

    private void onSupervisorAnswer(Conn c, Runnable write) {
        fromSupervisor.add(() -> {
            c.awaiting--;
            write.run();
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
        if (c.out != null) {
            c.ch.write(c.out);
        }
        boolean pending = c.out != null && c.out.hasRemaining();
        if (!pending && c.closeAfterWrite) {
            close(k);
            return;
        }
        k.interestOps(c.closeAfterWrite ? (pending ? SelectionKey.OP_WRITE : 0) : SelectionKey.OP_READ | (pending ? SelectionKey.OP_WRITE : 0));
    }

    private void sweepIdle() {
        long now = System.currentTimeMillis();
        for (SelectionKey k : new ArrayList<>(selector.keys())) {
            if (k.attachment() instanceof Conn) {
                Conn c = (Conn) k.attachment();
                if (c.awaiting > 0 || c.watching) {
                    continue;
                }
                if (c.in.position() > 0 && now - c.lastActivity > IDLE_MILLIS) {
                    close(k);
                } else if (c.in.position() == 0 && now - c.lastActivity > 30 * IDLE_MILLIS && (c.out == null || !c.out.hasRemaining())) {
                    close(k);
                }
            }
        }
    }

    private void close(SelectionKey k) {
        if (k.attachment() instanceof Conn && ((Conn) k.attachment()).watching) {
            List<SelectionKey> ks = watchers.get(((Conn) k.attachment()).pid);
            if (ks != null && ks.remove(k) && ks.isEmpty()) {
                watchers.remove(((Conn) k.attachment()).pid);
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
