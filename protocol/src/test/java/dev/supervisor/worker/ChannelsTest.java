package dev.supervisor.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.supervisor.protocol.Libc;
import dev.supervisor.testing.RawSockets;

/** Channels on real fds made as a supervisor makes them; each channel owns and closes its fd. */
class ChannelsTest {
    private static final long WAIT_MS = 10_000;

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "::1"})
    void tcpListenerAcceptsThroughASelector(String host) throws IOException {
        int fd = RawSockets.tcpListener(host);
        InetSocketAddress bound = RawSockets.localAddress(fd);
        try (ServerSocketChannel server = Channels.serverSocket(fd, "http");
                Selector selector = Selector.open()) {
            assertEquals(bound, server.getLocalAddress());
            server.configureBlocking(false);
            server.register(selector, SelectionKey.OP_ACCEPT);
            try (SocketChannel client = SocketChannel.open(bound)) {
                assertEquals(1, selector.select(WAIT_MS));
                try (SocketChannel accepted = server.accept()) {
                    assertNotNull(accepted);
                    assertEquals(client.getLocalAddress(), accepted.getRemoteAddress());
                    // IP_TOS goes to the IPv4 or IPv6 level by the channel's family: it must be the fd's.
                    accepted.setOption(StandardSocketOptions.IP_TOS, 0x10);
                    echo(client, accepted);
                }
            }
        }
        assertFalse(RawSockets.isOpen(fd), "closing the channel closes the fd it wrapped");
    }

    @Test
    void unixListenerAccepts(@TempDir Path dir) throws IOException {
        Path path = dir.resolve("web.sock");
        int fd = RawSockets.unixListener(path.toString());
        try (ServerSocketChannel server = Channels.serverSocket(fd, "web")) {
            assertEquals(UnixDomainSocketAddress.of(path), server.getLocalAddress());
            try (SocketChannel client = SocketChannel.open(UnixDomainSocketAddress.of(path));
                    SocketChannel accepted = server.accept()) {
                echo(client, accepted);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "::1"})
    void udpSocketSendsAndReceives(String host) throws IOException {
        int fd = RawSockets.udp(host);
        InetSocketAddress bound = RawSockets.localAddress(fd);
        try (DatagramChannel dns = Channels.datagram(fd, "dns");
                DatagramChannel client = DatagramChannel.open().bind(new InetSocketAddress(host, 0))) {
            assertEquals(bound, dns.getLocalAddress());
            client.send(bytes("question"), bound);
            ByteBuffer in = ByteBuffer.allocate(64);
            SocketAddress from = dns.receive(in);
            assertEquals(client.getLocalAddress(), from);
            assertEquals("question", text(in));
            // The AF_INET case fails here with EAFNOSUPPORT unless the channel's family is fixed.
            dns.send(bytes("answer"), from);
            in.clear();
            client.receive(in);
            assertEquals("answer", text(in));
        }
    }

    @Test
    void serverSocketOfAUdpListenerSaysToUseDatagram() {
        int fd = RawSockets.udp("127.0.0.1");
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Channels.serverSocket(fd, "dns"));
            assertEquals("listener 'dns' (fd " + fd + ") is a UDP socket, not a stream listener: use Activation.datagram(\"dns\")",
                    e.getMessage());
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void datagramOfATcpListenerSaysToUseServerSocket() {
        int fd = RawSockets.tcpListener("127.0.0.1");
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Channels.datagram(fd, "http"));
            assertEquals("listener 'http' (fd " + fd + ") is a TCP listener, not a UDP socket: use Activation.serverSocket(\"http\")",
                    e.getMessage());
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void streamSocketThatDoesNotListenIsRefused() {
        int fd = RawSockets.tcpUnbound();
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Channels.serverSocket(fd, "http"));
            assertEquals("listener 'http' (fd " + fd + ") is a TCP socket that does not listen, not a stream listener", e.getMessage());
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void unixDatagramSocketIsRefused(@TempDir Path dir) {
        int fd = RawSockets.unixDatagram(dir.resolve("d.sock").toString());
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Channels.datagram(fd, "log"));
            assertTrue(e.getMessage().endsWith("is an AF_UNIX datagram socket, not a UDP socket: the JDK has no channel for AF_UNIX datagram sockets"),
                    e.getMessage());
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void fdThatIsNotASocketIsRefused() {
        int[] pipe = RawSockets.pipe();
        try {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Channels.serverSocket(pipe[0], "http"));
            assertTrue(e.getMessage().startsWith("listener 'http' (fd " + pipe[0] + ") is not a socket: "), e.getMessage());
        } finally {
            Libc.close(pipe[0]);
            Libc.close(pipe[1]);
        }
    }

    @Test
    void closedFdIsRefused() {
        // Above the kernel's nr_open (2^20), so never open: a number we closed ourselves could be
        // reused by another thread of this JVM before the check.
        int fd = 1 << 20;
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Channels.serverSocket(fd, "http"));
        assertTrue(e.getMessage().startsWith("listener 'http' (fd " + fd + ") is not open: "), e.getMessage());
    }

    private static void echo(SocketChannel from, SocketChannel to) throws IOException {
        to.configureBlocking(true);
        from.write(bytes("ping"));
        ByteBuffer in = ByteBuffer.allocate(4);
        while (in.hasRemaining() && to.read(in) >= 0) {
            // a stream may deliver the 4 bytes in pieces
        }
        assertEquals("ping", text(in));
    }

    private static ByteBuffer bytes(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
    }

    private static String text(ByteBuffer b) {
        b.flip();
        return StandardCharsets.UTF_8.decode(b).toString();
    }
}
