package dev.supervisor.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The demo's loop on a listener of this JVM, with plain blocking sockets as clients. */
class DemoWorkerTest {
    private static final String BODY = "{\"generation\":3,\"worker\":1,\"pid\":77}";

    private DemoWorker worker;
    private InetSocketAddress address;
    private CompletableFuture<Void> served;

    @BeforeEach
    void start() throws Exception {
        ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        address = (InetSocketAddress) listener.getLocalAddress();
        worker = new DemoWorker(listener, BODY.getBytes(StandardCharsets.US_ASCII));
        CountDownLatch accepting = new CountDownLatch(1);
        served = CompletableFuture.runAsync(() -> {
            try {
                worker.serve(accepting::countDown);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        assertTrue(accepting.await(10, TimeUnit.SECONDS));
    }

    @AfterEach
    void stop() throws Exception {
        worker.drain();
        served.get(10, TimeUnit.SECONDS);
    }

    @Test
    void bodyNamesGenerationWorkerAndPid() {
        assertEquals(BODY, new String(DemoWorker.body(Map.of("SUPERVISOR_GENERATION", "3", "SUPERVISOR_WORKER", "1"), 77),
                StandardCharsets.US_ASCII));
        assertEquals("{\"generation\":null,\"worker\":null,\"pid\":77}", new String(DemoWorker.body(Map.of(), 77), StandardCharsets.US_ASCII));
    }

    @Test
    void keepAliveServesSeveralRequestsOnOneConnection() throws IOException {
        try (Client c = new Client(address)) {
            for (int i = 0; i < 3; i++) {
                c.send("GET / HTTP/1.1\r\nHost: test\r\n\r\n");
                Response r = c.read();
                assertEquals(200, r.status);
                assertEquals("application/json", r.headers.get("content-type"));
                assertNull(r.headers.get("connection"));
                assertEquals(BODY, r.body);
            }
        }
    }

    @Test
    void pipelinedRequestsArrivingInPiecesAreAnsweredInOrder() throws IOException {
        try (Client c = new Client(address)) {
            String requests = "POST /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody" + "HEAD /b HTTP/1.1\r\n\r\n" + "GET /c HTTP/1.1\r\n\r\n";
            for (byte b : requests.getBytes(StandardCharsets.US_ASCII)) {
                c.out.write(b);
                c.out.flush();
            }
            assertEquals(BODY, c.read().body);
            Response head = c.readHead();
            assertEquals(String.valueOf(BODY.length()), head.headers.get("content-length"));
            assertEquals(BODY, c.read().body);
        }
    }

    @Test
    void connectionCloseIsHonoured() throws IOException {
        try (Client c = new Client(address)) {
            c.send("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
            Response r = c.read();
            assertEquals("close", r.headers.get("connection"));
            assertTrue(c.atEnd());
        }
    }

    @Test
    void malformedRequestGets400AndClose() throws IOException {
        try (Client c = new Client(address)) {
            c.send("nonsense\r\n\r\n");
            Response r = c.read();
            assertEquals(400, r.status);
            assertEquals("close", r.headers.get("connection"));
            assertTrue(c.atEnd());
        }
    }

    @Test
    void drainAnswersInFlightAndNextRequestsWithCloseClosesIdleOnesAndEnds() throws Exception {
        try (Client idle = new Client(address); Client busy = new Client(address); Client late = new Client(address)) {
            for (Client c : new Client[] {idle, busy, late}) {
                c.send("GET / HTTP/1.1\r\n\r\n");
                assertNull(c.read().headers.get("connection"));
            }
            busy.send("GET /?sleep=300 HTTP/1.1\r\n\r\n");
            worker.drain();
            late.send("GET / HTTP/1.1\r\n\r\n"); // within the idle grace: still answered
            Response r = busy.read();
            assertEquals(BODY, r.body);
            assertEquals("close", r.headers.get("connection"));
            assertTrue(busy.atEnd());
            assertEquals("close", late.read().headers.get("connection"));
            assertTrue(late.atEnd());
            assertTrue(idle.atEnd(), "an idle connection is closed after the grace");
            served.get(10, TimeUnit.SECONDS);
        }
        // This test's listener was its only copy; under a supervisor the others keep theirs open.
        assertThrows(ConnectException.class, () -> new Socket(address.getAddress(), address.getPort()).close());
    }

    @Test
    void drainWithoutConnectionsEndsAtOnce() throws Exception {
        worker.drain();
        served.get(10, TimeUnit.SECONDS);
    }

    /** A parsed response. */
    private static final class Response {
        int status;
        final Map<String, String> headers = new LinkedHashMap<>();
        String body;
    }

    /** A blocking HTTP/1.1 client that reads exactly one response at a time. */
    private static final class Client implements AutoCloseable {
        final Socket socket;
        final InputStream in;
        final OutputStream out;

        Client(InetSocketAddress address) throws IOException {
            socket = new Socket(address.getAddress(), address.getPort());
            socket.setSoTimeout(10_000); // a deadline, not a wait: reads return as soon as bytes come
            in = socket.getInputStream();
            out = socket.getOutputStream();
        }

        void send(String s) throws IOException {
            out.write(s.getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }

        Response read() throws IOException {
            Response r = readHead();
            byte[] body = in.readNBytes(Integer.parseInt(r.headers.get("content-length")));
            r.body = new String(body, StandardCharsets.UTF_8);
            return r;
        }

        Response readHead() throws IOException {
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
                int b = in.read();
                assertFalse(b < 0, "connection closed in a response head: " + head);
                head.write(b);
            }
            String[] lines = head.toString(StandardCharsets.US_ASCII).split("\r\n");
            Response r = new Response();
            r.status = Integer.parseInt(lines[0].split(" ")[1]);
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                r.headers.put(lines[i].substring(0, colon).toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
            }
            return r;
        }

        boolean atEnd() throws IOException {
            return in.read() < 0;
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
