package dev.supervisor.daemon;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.NativeException;

/**
 * Passes every worker's stdout and stderr through, line by line, with a {@code [gen.worker pid]}
 * prefix, as the bytes the worker wrote (whatever their encoding). One thread polls every pipe and
 * hands each line to an {@link OutputValve}, which never blocks it; it owns each read end from
 * {@link #add} until EOF.
 */
final class OutputPump implements Runnable {
    static final int TAIL_LINES = 20;
    private static final int MAX_LINE = 16 * 1024;

    /** One pipe's read end and what has been read of its current line. */
    static final class Stream {
        final int fd;
        final byte[] prefix;
        final OutputValve sink;
        final ArrayDeque<String> tail; // null when no tail is kept; guarded by itself
        final CompletableFuture<Void> eof = new CompletableFuture<>();
        private final ByteArrayOutputStream line = new ByteArrayOutputStream();

        Stream(int fd, String prefix, OutputValve sink, ArrayDeque<String> tail) {
            this.fd = fd;
            this.prefix = prefix.getBytes(StandardCharsets.UTF_8);
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

        /**
         * Gives {@code then} the last lines once the stream has ended, or after 300 ms, so that a
         * dead worker's last words are in: on the pump's thread, the JDK's timer thread, or at once on
         * the caller's when the stream has already ended. The supervisor's callback only posts.
         */
        void tail(Consumer<List<String>> then) {
            eof.copy().completeOnTimeout(null, 300, TimeUnit.MILLISECONDS).thenRun(() -> {
                synchronized (tail) {
                    then.accept(new ArrayList<>(tail));
                }
            });
        }

        void emit() {
            if (line.size() == 0) {
                return;
            }
            byte[] out = new byte[prefix.length + line.size() + 1];
            System.arraycopy(prefix, 0, out, 0, prefix.length);
            byte[] text = line.toByteArray();
            line.reset();
            System.arraycopy(text, 0, out, prefix.length, text.length);
            out[out.length - 1] = '\n';
            sink.workerLine(out);
            if (tail != null) {
                synchronized (tail) {
                    if (tail.size() == TAIL_LINES) {
                        tail.removeFirst();
                    }
                    tail.addLast(new String(text, StandardCharsets.UTF_8)); // for an error message: text
                }
            }
        }
    }

    private final ConcurrentLinkedQueue<Stream> added = new ConcurrentLinkedQueue<>();
    private final int[] wake;
    private final List<Stream> streams = new ArrayList<>();
    private final Pause pause = new Pause();

    private OutputPump() throws NativeException {
        wake = Posix.pipe();
    }

    static OutputPump start() throws NativeException {
        OutputPump pump = new OutputPump();
        Thread t = new Thread(pump, "output-pump");
        t.setDaemon(true);
        t.start();
        return pump;
    }

    /** Takes ownership of {@code fd}: it is read until EOF, then closed here. */
    void add(Stream s) {
        added.add(s);
        Libc.daemon().write(wake[1], new byte[] {1}, 1);
    }

    /** Stops reading (what is unread stays in the pipes), at most {@code millis} to get there; false if it did not. */
    boolean pause(long millis) throws InterruptedException {
        pause.request();
        Libc.daemon().write(wake[1], new byte[] {1}, 1);
        return pause.awaitParked(millis);
    }

    void resume() {
        pause.resume();
    }

    @Override
    public void run() {
        byte[] buf = new byte[64 * 1024];
        Libc.DaemonCalls c = Libc.daemon();
        while (true) {
            pause.checkpoint(() -> streams.forEach(Stream::emit)); // a line half read goes out in two, not lost
            for (Stream s; (s = added.poll()) != null; ) {
                streams.add(s);
            }
            int[] fds = new int[streams.size()];
            for (int i = 0; i < fds.length; i++) {
                fds[i] = streams.get(i).fd;
            }
            boolean[] ready = Posix.awaitInput(wake[0], fds);
            List<Stream> done = new ArrayList<>();
            for (int i = 0; i < streams.size(); i++) {
                if (!ready[i]) {
                    continue;
                }
                Stream s = streams.get(i);
                long r = c.read(s.fd, buf, buf.length);
                if (r > 0) {
                    s.consume(buf, (int) r);
                } else if (r == 0 || Libc.errno() != Libc.EINTR) {
                    s.emit();
                    Libc.close(s.fd);
                    s.eof.complete(null);
                    done.add(s);
                }
            }
            streams.removeAll(done);
        }
    }
}
