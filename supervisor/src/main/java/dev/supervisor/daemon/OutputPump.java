package dev.supervisor.daemon;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import jnr.ffi.Pointer;

/**
 * Passes every worker's stdout and stderr through, line by line, with a {@code [gen.worker pid]}
 * prefix. One thread polls every pipe; it owns each read end from {@link #add} until EOF.
 */
final class OutputPump implements Runnable {
    static final int TAIL_LINES = 20;
    private static final int MAX_LINE = 16 * 1024;

    /** One pipe's read end and what has been read of its current line. */
    static final class Stream {
        final int fd;
        final String prefix;
        final PrintStream sink;
        final ArrayDeque<String> tail; // null when no tail is kept; guarded by itself
        final CountDownLatch eof = new CountDownLatch(1);
        /** Set once the pump has closed {@link #fd} (EOF). */
        volatile boolean closed;
        private final ByteArrayOutputStream line = new ByteArrayOutputStream();

        Stream(int fd, String prefix, PrintStream sink, ArrayDeque<String> tail) {
            this.fd = fd;
            this.prefix = prefix;
            this.sink = sink;
            this.tail = tail;
        }

        void consume(byte[] buf, int n) {
            int start = 0;
            for (int i = 0; i < n; i++) {
                if (buf[i] == '\n') {
                    line.write(buf, start, i - start);
                    emit();
                    start = i + 1;
                }
            }
            line.write(buf, start, n - start);
            if (line.size() >= MAX_LINE) {
                emit();
            }
        }

        /** The last lines, after waiting briefly for EOF so that a dead worker's last words are in. */
        List<String> tail() {
            try {
                eof.await(300, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            synchronized (tail) {
                return new ArrayList<>(tail);
            }
        }

        void emit() {
            if (line.size() == 0) {
                return;
            }
            String text = line.toString(StandardCharsets.UTF_8);
            line.reset();
            sink.println(prefix + text);
            if (tail != null) {
                synchronized (tail) {
                    if (tail.size() == TAIL_LINES) {
                        tail.removeFirst();
                    }
                    tail.addLast(text);
                }
            }
        }
    }

    private final ConcurrentLinkedQueue<Stream> added = new ConcurrentLinkedQueue<>();
    private final int[] wake = Posix.pipe();
    private final List<Stream> streams = new ArrayList<>();
    /** Non-null while frozen for an upgrade: the pump waits on it and touches no fd. */
    private volatile CountDownLatch thaw;
    private volatile CountDownLatch parked;

    /**
     * Stops the pump before its next read, so that the fds of open streams stay as they are
     * until the exec (or {@link #thaw}).
     *
     * @throws IllegalStateException when the pump does not stop within {@code timeoutMillis}
     *     (it is blocked writing to our own stdout)
     */
    void freeze(long timeoutMillis) {
        parked = new CountDownLatch(1);
        thaw = new CountDownLatch(1);
        Posix.libc().write(wake[1], new byte[] {1}, 1);
        try {
            if (!parked.await(timeoutMillis, TimeUnit.MILLISECONDS)) {
                thaw();
                throw new IllegalStateException("the output pump did not stop within " + timeoutMillis + " ms (blocked writing output)");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            thaw();
            throw new IllegalStateException("interrupted while stopping the output pump");
        }
    }

    void thaw() {
        CountDownLatch t = thaw;
        thaw = null;
        if (t != null) {
            t.countDown();
        }
    }

    private void parkIfFrozen() {
        CountDownLatch t = thaw;
        if (t != null) {
            parked.countDown();
            try {
                t.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    static OutputPump start() {
        OutputPump pump = new OutputPump();
        Thread t = new Thread(pump, "output-pump");
        t.setDaemon(true);
        t.start();
        return pump;
    }

    /** Takes ownership of {@code fd}: it is read until EOF, then closed here. */
    void add(Stream s) {
        added.add(s);
        Posix.libc().write(wake[1], new byte[] {1}, 1);
    }

    @Override
    public void run() {
        byte[] buf = new byte[64 * 1024];
        Posix.LibC c = Posix.libc();
        while (true) {
            parkIfFrozen();
            for (Stream s; (s = added.poll()) != null; ) {
                streams.add(s);
            }
            int n = streams.size() + 1;
            Pointer fds = Posix.allocate(8 * n);
            fds.putInt(0, wake[0]);
            fds.putShort(4, (short) Posix.POLLIN);
            for (int i = 0; i < streams.size(); i++) {
                fds.putInt(8L * (i + 1), streams.get(i).fd);
                fds.putShort(8L * (i + 1) + 4, (short) Posix.POLLIN);
            }
            if (c.poll(fds, n, -1) < 0) {
                continue; // EINTR
            }
            if (fds.getShort(6) != 0) {
                c.read(wake[0], buf, buf.length);
            }
            if (thaw != null) {
                continue; // frozen: read nothing more, close nothing
            }
            List<Stream> done = new ArrayList<>();
            for (int i = 0; i < streams.size(); i++) {
                if (fds.getShort(8L * (i + 1) + 6) == 0) {
                    continue;
                }
                Stream s = streams.get(i);
                long r = c.read(s.fd, buf, buf.length);
                if (r > 0) {
                    s.consume(buf, (int) r);
                } else if (r == 0 || Posix.errno() != Posix.EINTR) {
                    s.emit();
                    s.closed = true;
                    Posix.close(s.fd);
                    s.eof.countDown();
                    done.add(s);
                }
            }
            streams.removeAll(done);
        }
    }
}
