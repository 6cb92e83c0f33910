package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;

/** The transport on a real socket: framing, back-pressure and limits. */
class ControlServerTest {
    @TempDir
    Path tmp;

    private final FakeControl supervisor = new FakeControl();
    private ControlServer server;

    @BeforeEach
    void open() throws IOException {
        server = ControlServer.open(tmp.resolve("ctl/control.sock"));
        server.start(supervisor);
    }

    @AfterEach
    void close() {
        server.close();
    }

    private SocketChannel connect() throws IOException {
        return SocketChannel.open(UnixDomainSocketAddress.of(server.path()));
    }

    private static void send(SocketChannel ch, String text) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** The next line, or null at end of stream; the read blocks, bounded by the socket's end. */
    private static JsonNode readLine(SocketChannel ch) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (true) {
            one.clear();
            if (ch.read(one) < 0) {
                return null;
            }
            if (one.get(0) == '\n') {
                return Message.parseAnswer(line.toString(StandardCharsets.UTF_8));
            }
            line.write(one.get(0));
        }
    }

    @Test
    void aRequestSentAByteAtATimeIsAnsweredOnce() throws IOException {
        try (SocketChannel ch = connect()) {
            for (byte b : (Message.request(Message.STATUS) + "\n").getBytes(StandardCharsets.UTF_8)) {
                send(ch, new String(new byte[] {b}, StandardCharsets.ISO_8859_1));
            }
            assertEquals(1, readLine(ch).path(Message.STATUS).path("n").asInt());
            assertEquals(1, supervisor.statusCalls.get());
        }
    }

    @Test
    void aMalformedLineGetsAnErrorAndTheNextRequestIsStillServed() throws IOException {
        try (SocketChannel ch = connect()) {
            send(ch, "garbage\n" + Message.request(Message.STATUS) + "\n");
            assertFalse(readLine(ch).path(Message.OK).asBoolean());
            assertTrue(readLine(ch).path(Message.OK).asBoolean());
        }
    }

    @Test
    void aLineLongerThanTheLimitIsRefusedAndTheConnectionEnds() throws IOException {
        try (SocketChannel ch = connect()) {
            send(ch, "x".repeat(Wire.MAX_REQUEST_BYTES + 1));
            JsonNode a = readLine(ch);
            assertTrue(a.path(Message.ERROR).asText().contains("longer than " + Wire.MAX_REQUEST_BYTES), a.toString());
            assertEquals(null, readLine(ch), "closed after the answer");
        }
    }

    @Test
    void pipelinedRequestsBeyondTheInFlightLimitWaitUntilAnswersComeBack() throws Exception {
        supervisor.hold = true;
        int n = ControlServer.MAX_IN_FLIGHT + 3;
        try (SocketChannel ch = connect()) {
            send(ch, (Message.request(Message.STATUS) + "\n").repeat(n));
            java.util.List<Runnable> first = new java.util.ArrayList<>();
            for (int i = 0; i < ControlServer.MAX_IN_FLIGHT; i++) {
                first.add(supervisor.held.poll(10, TimeUnit.SECONDS));
            }
            // No answer has gone back yet, so no further request can have been handed over.
            assertEquals(ControlServer.MAX_IN_FLIGHT, supervisor.statusCalls.get());
            first.forEach(Runnable::run);
            for (int answered = ControlServer.MAX_IN_FLIGHT; answered < n; answered++) {
                supervisor.held.poll(10, TimeUnit.SECONDS).run();
            }
            for (int i = 1; i <= n; i++) {
                assertEquals(i, readLine(ch).path(Message.STATUS).path("n").asInt());
            }
            assertEquals(n, supervisor.statusCalls.get());
        }
    }

    @Test
    void aStopIsAnsweredOkAndReachesTheSupervisor() throws IOException, InterruptedException {
        try (SocketChannel ch = connect()) {
            send(ch, Message.request(Message.STOP) + "\n");
            assertTrue(readLine(ch).path(Message.OK).asBoolean());
            assertTrue(supervisor.stopped.await(10, TimeUnit.SECONDS), "the stop reached the supervisor");
            assertEquals(1, supervisor.stops.get());
        }
    }
}
