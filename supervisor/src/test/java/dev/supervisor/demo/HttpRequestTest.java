package dev.supervisor.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

class HttpRequestTest {

    @Test
    void incompleteHeadConsumesNothing() throws Exception {
        ByteBuffer in = buffer("GET / HTTP/1.1\r\nHost: x\r\n");
        assertNull(HttpRequest.parse(in));
        assertEquals(0, in.position());
    }

    @Test
    void http11KeepsAliveUnlessToldToClose() throws Exception {
        assertTrue(parse("GET / HTTP/1.1\r\nHost: x\r\n\r\n").keepAlive);
        assertFalse(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keepAlive);
        assertFalse(parse("GET / HTTP/1.1\r\nconnection: Upgrade, Close\r\n\r\n").keepAlive);
    }

    @Test
    void http10ClosesUnlessAskedToKeepAlive() throws Exception {
        HttpRequest r = parse("GET / HTTP/1.0\r\n\r\n");
        assertFalse(r.keepAlive);
        assertTrue(r.http10);
        assertTrue(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keepAlive);
    }

    @Test
    void pipelinedRequestsComeOneByOne() throws Exception {
        ByteBuffer in = buffer("GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\nGET /c");
        assertEquals("GET", HttpRequest.parse(in).method);
        assertEquals("HEAD", HttpRequest.parse(in).method);
        int before = in.position();
        assertNull(HttpRequest.parse(in));
        assertEquals(before, in.position());
    }

    @Test
    void emptyLinesBeforeARequestAreIgnored() throws Exception {
        assertEquals("GET", parse("\r\n\r\nGET / HTTP/1.1\r\n\r\n").method);
    }

    @Test
    void bodyLengthIsLeftToTheCaller() throws Exception {
        ByteBuffer in = buffer("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
        assertEquals(5, HttpRequest.parse(in).bodyLength);
        assertEquals(5, in.remaining());
    }

    @Test
    void sleepComesFromTheQuery() throws Exception {
        assertEquals(0, parse("GET / HTTP/1.1\r\n\r\n").sleepMillis);
        assertEquals(250, parse("GET /?a=1&sleep=250 HTTP/1.1\r\n\r\n").sleepMillis);
        assertEquals(60_000, parse("GET /?sleep=60000 HTTP/1.1\r\n\r\n").sleepMillis);
        assertMalformed(400, "sleep must be 0 to 60000 milliseconds, got '60001'", "GET /?sleep=60001 HTTP/1.1\r\n\r\n");
        assertMalformed(400, "sleep must be 0 to 60000 milliseconds, got '-1'", "GET /?sleep=-1 HTTP/1.1\r\n\r\n");
    }

    @Test
    void malformedRequests() {
        assertMalformed(400, "expected 'METHOD TARGET HTTP/1.x', got 'hello'", "hello\r\n\r\n");
        assertMalformed(505, "expected HTTP/1.0 or HTTP/1.1, got HTTP/1.2", "GET / HTTP/1.2\r\n\r\n");
        assertMalformed(400, "expected 'Name: value', got 'no colon'", "GET / HTTP/1.1\r\nno colon\r\n\r\n");
        assertMalformed(400, "bad Content-Length '-3'", "POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n");
        assertMalformed(400, "bad Content-Length '4'", "POST / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 4\r\n\r\n");
        assertMalformed(501, "Transfer-Encoding is not supported, send Content-Length",
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        assertMalformed(431, "request head longer than 8192 bytes", "GET / HTTP/1.1\r\nX: " + "x".repeat(HttpRequest.MAX_HEAD));
    }

    private static HttpRequest parse(String s) throws HttpRequest.Malformed {
        return HttpRequest.parse(buffer(s));
    }

    private static void assertMalformed(int status, String message, String request) {
        HttpRequest.Malformed e = assertThrows(HttpRequest.Malformed.class, () -> parse(request));
        assertEquals(status, e.status);
        assertEquals(message, e.getMessage());
    }

    private static ByteBuffer buffer(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.ISO_8859_1));
    }
}
