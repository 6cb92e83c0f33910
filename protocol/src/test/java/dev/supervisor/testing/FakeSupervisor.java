package dev.supervisor.testing;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;

import dev.supervisor.protocol.FdPassing;
import dev.supervisor.protocol.Libc;

/**
 * A control socket that answers one request with a given line and fds, as the supervisor will
 * answer "listeners". {@link #request()} completes with the request line it read.
 */
public final class FakeSupervisor implements AutoCloseable {
    private final int listener;
    private final CompletableFuture<String> request = new CompletableFuture<>();

    public FakeSupervisor(String path, String answer, int[] fds) {
        listener = RawSockets.unixListener(path);
        Thread t = new Thread(() -> {
            int conn = RawSockets.accept(listener);
            try {
                request.complete(FdPassing.receive(conn).line());
                FdPassing.send(conn, answer, fds);
            } catch (IOException | RuntimeException e) {
                request.completeExceptionally(e);
            } finally {
                Libc.close(conn);
            }
        }, "fake supervisor");
        t.setDaemon(true);
        t.start();
    }

    public CompletableFuture<String> request() {
        return request;
    }

    @Override
    public void close() {
        Libc.close(listener);
    }
}
