package dev.supervisor.examples.selector;

import static java.nio.channels.SelectionKey.OP_ACCEPT;
import static java.nio.channels.SelectionKey.OP_READ;
import static java.nio.channels.SelectionKey.OP_WRITE;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.supervisor.worker.Activation;

/**
 * A small HTTP server on one thread and one JDK {@link Selector}, serving on the listener that
 * supervisor hands it. One answer per connection ({@code Connection: close}):
 * {@code GET /} answers at once, {@code GET /slow?ms=N} after N ms.
 *
 * <pre>
 * supervisor run -l http=127.0.0.1:8080 --ready notify -- java -jar supervisor-example-selector.jar
 * </pre>
 *
 * On drain it stops accepting (the connections still queued are the next generation's), answers
 * every connection it has accepted, and exits when none is left.
 */
public final class SelectorServer {
    private static final Pattern REQUEST_LINE = Pattern.compile("^GET (/[^ ?]*)(?:\\?ms=(\\d+))? HTTP/1\\.[01]\r\n");
    /** A connection that sends no complete request within this long is closed. */
    private static final long READ_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(10);

    public static void main(String[] args) throws IOException {
        ServerSocketChannel listener = Activation.serverSocket("http"); // supervisor: the socket, by name
        Selector selector = Selector.open();
        AtomicBoolean drain = new AtomicBoolean();
        Activation.onDrain(() -> {                                      // supervisor: told to drain
            drain.set(true);
            selector.wakeup();
        });

        listener.configureBlocking(false); // shared with the other workers' copies: the JDK copes with either mode
        SelectionKey accepting = listener.register(selector, OP_ACCEPT);
        List<Exchange> open = new ArrayList<>();
        Activation.ready();                                             // supervisor: now serving
        System.out.println("serving " + listener.getLocalAddress());

        while (accepting.isValid() || !open.isEmpty()) {
            long next = open.stream().mapToLong(e -> e.deadline).min().orElse(Long.MAX_VALUE);
            long wait = next == Long.MAX_VALUE ? 0 : Math.max(1, TimeUnit.NANOSECONDS.toMillis(next - System.nanoTime() + 999_999));
            selector.select(wait);
            if (drain.get() && accepting.isValid()) {
                accepting.cancel();
                listener.close(); // this process's copy only: the supervisor's socket stays open
                System.out.println("draining: stopped accepting, " + open.size() + " connection(s) to finish");
            }
            for (SelectionKey key : selector.selectedKeys()) {
                if (!key.isValid()) {
                    continue;
                }
                if (key == accepting) {
                    SocketChannel c;
                    while ((c = listener.accept()) != null) { // null: another worker took it
                        c.configureBlocking(false);
                        open.add(new Exchange(c, c.register(selector, OP_READ)));
                    }
                } else {
                    ((Exchange) key.attachment()).onReady();
                }
            }
            selector.selectedKeys().clear();
            long now = System.nanoTime();
            for (Exchange e : open) {
                if (now - e.deadline >= 0) {
                    e.onTime();
                }
            }
            open.removeIf(e -> !e.channel.isOpen());
        }
        System.out.println("drained: exiting");
    }

    /** One connection: read a request, maybe wait, write the answer, close. */
    private static final class Exchange {
        final SocketChannel channel;
        final SelectionKey key;
        final ByteBuffer in = ByteBuffer.allocate(8192);
        ByteBuffer out;
        /** When to give up reading, or when to answer a slow request. */
        long deadline = System.nanoTime() + READ_TIMEOUT_NANOS;

        Exchange(SocketChannel channel, SelectionKey key) {
            this.channel = channel;
            this.key = key;
            key.attach(this);
        }

        void onReady() throws IOException {
            try {
                if (key.isReadable()) {
                    read();
                } else if (key.isWritable()) {
                    write();
                }
            } catch (IOException e) {
                channel.close(); // the client went away
            }
        }

        private void read() throws IOException {
            if (channel.read(in) < 0) {
                channel.close();
                return;
            }
            String head = new String(in.array(), 0, in.position(), StandardCharsets.ISO_8859_1);
            if (!head.contains("\r\n\r\n")) {
                if (!in.hasRemaining()) {
                    channel.close(); // a request head longer than the buffer
                }
                return;
            }
            key.interestOps(0);
            Matcher m = REQUEST_LINE.matcher(head);
            if (!m.find()) {
                answer(400, "{\"error\":\"expected GET / or GET /slow?ms=N\"}");
            } else if (m.group(1).equals("/slow")) {
                long ms = m.group(2) == null ? 1000 : Long.parseLong(m.group(2));
                System.out.println("slow request: answering in " + ms + " ms");
                deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
                out = null;
            } else {
                answer(200, hello());
            }
        }

        void onTime() throws IOException {
            try {
                if (key.interestOps() == OP_READ) {
                    channel.close(); // no request within the read timeout
                } else {
                    answer(200, hello());
                }
            } catch (IOException e) {
                channel.close();
            }
        }

        private void answer(int status, String body) throws IOException {
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            out = ByteBuffer.wrap(("HTTP/1.1 " + status + (status == 200 ? " OK" : " Bad Request") + "\r\n"
                    + "Content-Type: application/json\r\nContent-Length: " + b.length + "\r\nConnection: close\r\n\r\n"
                    + body).getBytes(StandardCharsets.UTF_8));
            deadline = Long.MAX_VALUE;
            write();
        }

        private void write() throws IOException {
            channel.write(out);
            if (out.hasRemaining()) {
                key.interestOps(OP_WRITE);
            } else {
                channel.close();
            }
        }
    }

    /** {"server":"selector","generation":G,"pid":P}: G is supervisor's generation number. */
    static String hello() {
        String generation = System.getenv("SUPERVISOR_GENERATION");
        return "{\"server\":\"selector\",\"generation\":" + (generation == null ? "null" : generation) + ",\"pid\":"
                + ProcessHandle.current().pid() + "}";
    }
}
