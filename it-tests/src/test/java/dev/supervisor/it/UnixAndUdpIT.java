package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
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
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A unix stream listener and a udp listener reach the worker ({@code worker.py echo} answers on
 * both); a socket file left behind by a dead process is replaced; the longest path the kernel
 * takes (107 bytes) works.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UnixAndUdpIT {
    private static final Duration IO = Duration.ofSeconds(10);

    @TempDir
    Path tmp;

    @Test
    void unixAndUdpListenersReachTheWorkerAndAStaleSocketFileIsReplaced() throws Exception {
        Path sock = tmp.resolve("s.sock");
        leaveStaleSocket(sock);
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("sock", "unix:" + sock).listen("dns", "udp://127.0.0.1:0")
                .readyNotify().command(Fixtures.worker("echo")).start()) {
            s.awaitLine("^supervisor: listening sock=unix:" + Pattern.quote(sock.toString()) + "$");
            int udpPort = s.port("dns");
            s.awaitReady(1);

            assertEquals("echo hello over unix", unixExchange(sock, "hello over unix"));
            assertEquals("echo hello over udp", udpExchange(udpPort, "hello over udp"));
            assertEquals("echo again over unix", unixExchange(sock, "again over unix"));

            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(20)));
        }
    }

    @Test
    void unixPathOf107BytesWorks() throws Exception {
        Path sock = Path.of(StartupErrorsIT.unixPath(tmp, 107));
        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("sock", "unix:" + sock).readyNotify()
                .command(Fixtures.worker("echo")).start()) {
            s.awaitLine("^supervisor: listening sock=unix:" + Pattern.quote(sock.toString()) + "$");
            s.awaitReady(1);
            // The JDK's own client refuses paths this long; connect(2) follows a symlink to the socket.
            Path shortcut = Files.createSymbolicLink(tmp.resolve("l"), sock);
            assertEquals("echo longest path", unixExchange(shortcut, "longest path"));
            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(20)));
        }
    }

    /** What a crashed server leaves: a socket file nobody listens on. */
    private static void leaveStaleSocket(Path path) throws IOException {
        try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            dead.bind(UnixDomainSocketAddress.of(path));
        }
        PosixFileAttributes a = Files.readAttributes(path, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        assertTrue(a.isOther(), path + " is left behind as a socket file");
    }

    /** Connects, sends {@code line}, returns the answer line; every step within {@link #IO}. */
    static String unixExchange(Path path, String line) throws IOException {
        long deadline = System.nanoTime() + IO.toNanos();
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX); Selector sel = Selector.open()) {
            ch.configureBlocking(false);
            SelectionKey key = ch.register(sel, SelectionKey.OP_CONNECT);
            if (!ch.connect(UnixDomainSocketAddress.of(path))) {
                awaitReady(sel, deadline, "connect to " + path);
                ch.finishConnect();
            }
            ByteBuffer out = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
            key.interestOps(SelectionKey.OP_WRITE);
            while (out.hasRemaining()) {
                awaitReady(sel, deadline, "write to " + path);
                ch.write(out);
            }
            key.interestOps(SelectionKey.OP_READ);
            ByteBuffer in = ByteBuffer.allocate(4096);
            while (true) {
                String got = new String(in.array(), 0, in.position(), StandardCharsets.UTF_8);
                int nl = got.indexOf('\n');
                if (nl >= 0) {
                    return got.substring(0, nl);
                }
                awaitReady(sel, deadline, "answer from " + path + " (so far '" + got + "')");
                if (ch.read(in) < 0) {
                    throw new IOException("closed without a whole line; got '" + got + "'");
                }
            }
        }
    }

    private static void awaitReady(Selector sel, long deadline, String what) throws IOException {
        long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (left <= 0 || sel.select(left) == 0 && System.nanoTime() - deadline >= 0) {
            throw new AssertionError("no " + what + " within " + IO.toMillis() + " ms");
        }
        sel.selectedKeys().clear();
    }

    /** Sends one datagram to 127.0.0.1:port and returns the answer, within {@link #IO}. */
    static String udpExchange(int port, String text) throws IOException {
        try (DatagramSocket d = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            d.setSoTimeout((int) IO.toMillis());
            byte[] out = text.getBytes(StandardCharsets.UTF_8);
            d.send(new DatagramPacket(out, out.length, InetAddress.getLoopbackAddress(), port));
            DatagramPacket in = new DatagramPacket(new byte[4096], 4096);
            d.receive(in);
            assertEquals(port, in.getPort(), "the answer comes from the listener's port");
            return new String(in.getData(), 0, in.getLength(), StandardCharsets.UTF_8);
        }
    }
}
