package dev.supervisor.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.supervisor.testing.FakeSupervisor;
import dev.supervisor.testing.RawSockets;

/** FdPassing over a socketpair in this process: what goes in on one end comes out of the other. */
class FdPassingTest {
    private int[] pair;

    @BeforeEach
    void connect() {
        pair = RawSockets.socketpair();
    }

    @AfterEach
    void close() {
        Libc.close(pair[0]);
        Libc.close(pair[1]);
    }

    @Test
    void lineWithoutFds() throws IOException {
        FdPassing.send(pair[0], "{\"v\":1,\"cmd\":\"listeners\"}", new int[0]);
        FdPassing.Received r = FdPassing.receive(pair[1]);
        assertEquals("{\"v\":1,\"cmd\":\"listeners\"}", r.line());
        assertEquals(0, r.fds().length);
    }

    /** 1 fd, exactly one message full, one more than a message holds, and three messages. */
    @ParameterizedTest
    @ValueSource(ints = {1, Wire.SCM_MAX_FD, Wire.SCM_MAX_FD + 1, 2 * Wire.SCM_MAX_FD + 1})
    void fdsArriveInOrderAsNewCloexecFds(int count) throws IOException {
        int listener = RawSockets.tcpListener("127.0.0.1");
        int udp = RawSockets.udp("127.0.0.1");
        int[] sent = new int[count];
        for (int i = 0; i < count; i++) {
            sent[i] = RawSockets.dup(i % 2 == 0 ? listener : udp);
        }
        int[] received = new int[0];
        try {
            String line = "{\"names\":[" + "\"x\",".repeat(count - 1) + "\"x\"]}";
            FdPassing.send(pair[0], line, sent);
            FdPassing.Received r = FdPassing.receive(pair[1]);
            received = r.fds();
            assertEquals(line, r.line());
            assertEquals(count, received.length);
            for (int i = 0; i < count; i++) {
                int fd = received[i];
                assertFalse(Arrays.stream(sent).anyMatch(s -> s == fd), "a received fd is a new fd");
                assertTrue(RawSockets.isCloexec(received[i]), "received fds are FD_CLOEXEC");
                int type = i % 2 == 0 ? Libc.SOCK_STREAM : Libc.SOCK_DGRAM;
                assertEquals(type, Libc.socketOption(received[i], Libc.SOL_SOCKET, Libc.SO_TYPE), "fd " + i + " is the socket sent in place " + i);
            }
            assertEquals(RawSockets.localAddress(listener), RawSockets.localAddress(received[0]));
        } finally {
            closeAll(sent);
            closeAll(received);
            Libc.close(listener);
            Libc.close(udp);
        }
    }

    @Test
    void lineShorterThanTheMessagesItMustCarryIsRefused() {
        int[] fds = new int[Wire.SCM_MAX_FD + 1];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FdPassing.send(pair[0], "", fds));
        assertEquals("254 fds need a line of at least 2 bytes, got 1", e.getMessage());
    }

    @Test
    void peerClosingBeforeTheNewlineIsAnError() {
        byte[] half = "{\"v\":1".getBytes(StandardCharsets.UTF_8);
        assertEquals(half.length, Libc.calls().sendto(pair[0], half, half.length, 0, null, 0));
        Libc.close(pair[0]);
        pair[0] = -1;
        IOException e = assertThrows(IOException.class, () -> FdPassing.receive(pair[1]));
        assertEquals("peer closed the connection after 6 bytes, before the end of the line", e.getMessage());
    }

    @Test
    void lineLongerThanTheLimitIsAnErrorAndLeaksNoFd() throws IOException {
        int listener = RawSockets.tcpListener("127.0.0.1");
        try {
            long before = openFds();
            FdPassing.send(pair[0], "x".repeat(Wire.MAX_REQUEST_BYTES), new int[] {listener});
            IOException e = assertThrows(IOException.class, () -> FdPassing.receive(pair[1]));
            assertEquals("line longer than " + Wire.MAX_REQUEST_BYTES + " bytes", e.getMessage());
            assertEquals(before, openFds(), "the fd that came with the refused line is closed");
        } finally {
            Libc.close(listener);
        }
    }

    @Test
    void requestConnectsSendsAndReadsTheAnswer(@TempDir Path dir) throws Exception {
        int listener = RawSockets.tcpListener("127.0.0.1");
        String path = dir.resolve("control.sock").toString();
        try (FakeSupervisor supervisor = new FakeSupervisor(path, "{\"v\":1,\"ok\":true,\"names\":[\"http\"]}", new int[] {listener})) {
            FdPassing.Received r = FdPassing.request(path, Message.request(Message.LISTENERS));
            assertEquals(Message.request(Message.LISTENERS), supervisor.request().get(10, TimeUnit.SECONDS));
            assertEquals("{\"v\":1,\"ok\":true,\"names\":[\"http\"]}", r.line());
            assertEquals(1, r.fds().length);
            assertEquals(RawSockets.localAddress(listener), RawSockets.localAddress(r.fds()[0]));
            closeAll(r.fds());
        } finally {
            Libc.close(listener);
        }
    }

    @Test
    void requestToASocketNobodyListensOnNamesTheCall(@TempDir Path dir) {
        String path = dir.resolve("nobody.sock").toString();
        IOException e = assertThrows(IOException.class, () -> FdPassing.request(path, Message.request(Message.LISTENERS)));
        assertEquals("connect(" + path + ") failed: ENOENT (No such file or directory)", e.getMessage());
    }

    private static long openFds() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    private static void closeAll(int[] fds) {
        for (int fd : fds) {
            Libc.close(fd);
        }
    }
}
