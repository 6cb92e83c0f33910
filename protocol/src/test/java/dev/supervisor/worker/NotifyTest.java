package dev.supervisor.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.Wire;
import dev.supervisor.testing.RawSockets;

/** Notify against a datagram socket the test reads, as the supervisor's notify socket would. */
class NotifyTest {

    @Test
    void sendsToASocketPath(@TempDir Path dir) {
        String path = dir.resolve("notify.sock").toString();
        int fd = RawSockets.unixDatagram(path);
        try {
            Notify notify = Notify.fromEnvironment(Map.of(Wire.NOTIFY_SOCKET, path));
            notify.send(Wire.READY);
            assertEquals("READY=1", RawSockets.receiveNow(fd));
            notify.send("STATUS=warming caches");
            assertEquals("STATUS=warming caches", RawSockets.receiveNow(fd));
            assertNull(RawSockets.receiveNow(fd), "one datagram per message");
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void sendsToAnAbstractName() {
        String name = "@supervisor-notify-test-" + ProcessHandle.current().pid();
        int fd = RawSockets.unixDatagram(name);
        try {
            Notify.fromEnvironment(Map.of(Wire.NOTIFY_SOCKET, name)).send(Wire.STOPPING);
            assertEquals("STOPPING=1", RawSockets.receiveNow(fd));
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void withoutNotifySocketNothingIsSent() {
        Notify.fromEnvironment(Map.of()).send(Wire.READY);
        Notify.fromEnvironment(Map.of(Wire.NOTIFY_SOCKET, "")).send(Wire.READY);
    }

    @Test
    void socketNobodyReadsIsAnError(@TempDir Path dir) {
        String path = dir.resolve("gone.sock").toString();
        UncheckedIOException e = assertThrows(UncheckedIOException.class,
                () -> Notify.fromEnvironment(Map.of(Wire.NOTIFY_SOCKET, path)).send(Wire.READY));
        assertEquals("sendto(NOTIFY_SOCKET=" + path + ", \"READY=1\") failed: ENOENT (No such file or directory)", e.getCause().getMessage());
    }

    @Test
    void relativePathIsRefused() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Notify.fromEnvironment(Map.of(Wire.NOTIFY_SOCKET, "run/notify")).send(Wire.READY));
        assertEquals("NOTIFY_SOCKET=run/notify: expected an absolute path or an @abstract name", e.getMessage());
    }

    @Test
    void pathTooLongForSockaddrIsRefused() {
        String path = "/" + "x".repeat(Wire.SUN_PATH_MAX);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Notify.fromEnvironment(Map.of(Wire.NOTIFY_SOCKET, path)).send(Wire.READY));
        assertTrue(e.getMessage().startsWith("NOTIFY_SOCKET: socket path /xxx"), e.getMessage());
    }
}
