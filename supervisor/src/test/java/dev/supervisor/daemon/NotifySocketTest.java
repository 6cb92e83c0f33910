package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.supervisor.protocol.Wire;

/**
 * The notify socket on a real datagram socket: private to us, and a message counts for the worker
 * whose pid the kernel names as its sender. The fake worker's pid is this test's own, so that
 * what this process sends comes from "the worker".
 */
class NotifySocketTest {
    @TempDir
    Path tmp;

    private static void send(Path socket, String message) {
        Posix.LibC c = Posix.libc();
        int fd = Posix.check(c.socket(Posix.AF_UNIX, Posix.SOCK_DGRAM | Posix.SOCK_CLOEXEC, 0), "socket");
        try {
            byte[] addr = Posix.sockaddrUnix(socket.toString());
            byte[] data = message.getBytes(StandardCharsets.UTF_8);
            assertEquals(data.length, c.sendto(fd, data, data.length, 0, addr, addr.length), "sendto " + socket);
        } finally {
            Posix.close(fd);
        }
    }

    @Test
    void aWorkersReadyOverTheSocketMakesItsGenerationReady() throws Exception {
        FakeSpawner spawner = new FakeSpawner();
        spawner.nextPid.set((int) ProcessHandle.current().pid());
        Config.Flags f = new Config.Flags();
        f.listen = List.of("web=127.0.0.1:0");
        f.command = List.of("worker");
        f.ready = "notify";
        Config config = Config.load(null, f);
        Supervisor supervisor = new Supervisor(spawner, (name, a) -> new Listener(name, a, -1, a.toString()), () -> config,
                Map.of(), Map.of(Wire.NOTIFY_SOCKET, "/n"), m -> {});
        BlockingQueue<SupervisorEvent> events = new LinkedBlockingQueue<>();
        supervisor.observe(events::add);
        Path dir = tmp.resolve("run");
        ControlDirectory.prepare(dir, Posix.libc().getuid(), -1);
        Path path = dir.resolve("notify.sock");
        try (NotifySocket notify = NotifySocket.open(path, null)) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(path)));
            notify.start(supervisor);
            List<Listener> bound = supervisor.bind(config);
            CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> supervisor.run(bound));
            assertNotNull(awaitKind(events, SupervisorEvent.Kind.WORKER_STARTED));
            send(path, "STATUS=warming up\nREADY=1");
            SupervisorEvent ready = awaitKind(events, SupervisorEvent.Kind.GENERATION_READY);
            assertNotNull(ready, "READY=1 from the worker's pid made generation 1 ready");
            assertEquals(1, ready.generation());
            supervisor.stop();
            assertEquals(0, exit.get(10, TimeUnit.SECONDS));
        }
        assertFalse(Files.exists(path), "closing removes the socket");
    }

    private static SupervisorEvent awaitKind(BlockingQueue<SupervisorEvent> events, SupervisorEvent.Kind kind) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (long left; (left = deadline - System.nanoTime()) > 0; ) {
            SupervisorEvent e = events.poll(left, TimeUnit.NANOSECONDS);
            if (e != null && e.kind() == kind) {
                return e;
            }
        }
        assertTrue(false, "no " + kind + " within 10 s");
        return null;
    }
}
