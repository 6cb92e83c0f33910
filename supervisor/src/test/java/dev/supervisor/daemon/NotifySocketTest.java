package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.NativeException;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A worker's notify socket on a real datagram socket: private to us, what arrives on it is handed
 * to that worker's receiver with the kernel's word for the sender, and closing it removes it.
 */
class NotifySocketTest {
    @TempDir
    Path tmp;

    private static void send(String socket, String message) throws NativeException {
        Libc.DaemonCalls c = Libc.daemon();
        int fd = Libc.check(c.socket(Libc.AF_UNIX, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0), "socket");
        try {
            byte[] addr = Libc.unixAddress(socket);
            byte[] data = message.getBytes(StandardCharsets.UTF_8);
            assertEquals(data.length, c.sendto(fd, data, data.length, 0, addr, addr.length), "sendto " + socket);
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void aMessageOnAWorkersSocketReachesItsReceiverWithTheSender() throws Exception {
        Path dir = tmp.resolve("run");
        ControlDirectory.prepare(dir, Libc.daemon().getuid(), -1);
        BlockingQueue<String> got = new LinkedBlockingQueue<>();
        try (NotifySocket notify = NotifySocket.open(dir, "notify-test", null, m -> {})) {
            notify.start();
            NotifySocket.Endpoint worker = notify.add((text, received, sender) -> got.add(sender + " " + text));
            Path path = Path.of(worker.path());
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(path)));
            send(worker.path(), "STATUS=warming up\nREADY=1");
            String message = got.poll(10, TimeUnit.SECONDS);
            assertNotNull(message, "the datagram reached the worker's receiver");
            assertEquals(ProcessHandle.current().pid() + " STATUS=warming up\nREADY=1", message);
            worker.close();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (Files.exists(path) && System.nanoTime() < deadline) {
                got.poll(10, TimeUnit.MILLISECONDS);
            }
            assertFalse(Files.exists(path), "closing removes the socket");
        }
    }
}
