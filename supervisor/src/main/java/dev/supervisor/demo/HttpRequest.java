package dev.supervisor.demo;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/** The head of one HTTP/1.x request: what the demo needs of it, parsed from a buffer. */
final class HttpRequest {
    /** Longest request head we read; a longer one is refused with 431. */
    static final int MAX_HEAD = 8 * 1024;
    /** Longest delay a {@code ?sleep=MS} may ask for. */
    static final long MAX_SLEEP_MS = 60_000;

    final String method;
    final boolean keepAlive;
    /** Whether the client asked for keep-alive explicitly, as HTTP/1.0 must. */
    final boolean http10;
    final long bodyLength;
    final long sleepMillis;

    private HttpRequest(String method, boolean keepAlive, boolean http10, long bodyLength, long sleepMillis) {
        this.method = method;
        this.keepAlive = keepAlive;
        this.http10 = http10;
        this.bodyLength = bodyLength;
        this.sleepMillis = sleepMillis;
    }

    /** A request the demo cannot answer with 200; the connection closes after the error response. */
    static final class Malformed extends Exception {
        private static final long serialVersionUID = 1L;
        final int status;

        Malformed(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    /**
     * Parses the request head at the start of {@code in} (read mode) and consumes it. Returns null
     * while the head is incomplete, having consumed at most empty lines. The body, if any, is left
     * to the caller.
     */
    static HttpRequest parse(ByteBuffer in) throws Malformed {
        // RFC 9112 2.2: ignore empty lines before the request line.
        while (in.remaining() >= 2 && in.get(in.position()) == '\r' && in.get(in.position() + 1) == '\n') {
            in.position(in.position() + 2);
        }
        int end = headEnd(in);
        if (end < 0) {
            if (in.remaining() >= MAX_HEAD) {
                throw new Malformed(431, "request head longer than " + MAX_HEAD + " bytes");
            }
            return null;
        }
        byte[] head = new byte[end - in.position()];
        in.get(head);
        in.position(end + 4);
        String[] lines = new String(head, StandardCharsets.ISO_8859_1).split("\r\n");
        String[] requestLine = lines[0].split(" ");
        if (requestLine.length != 3 || !requestLine[2].startsWith("HTTP/1.")) {
            throw new Malformed(400, "expected 'METHOD TARGET HTTP/1.x', got '" + lines[0] + "'");
        }
        boolean http10 = requestLine[2].equals("HTTP/1.0");
        if (!http10 && !requestLine[2].equals("HTTP/1.1")) {
            throw new Malformed(505, "expected HTTP/1.0 or HTTP/1.1, got " + requestLine[2]);
        }
        String connection = "";
        long bodyLength = -1;
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon <= 0) {
                throw new Malformed(400, "expected 'Name: value', got '" + lines[i] + "'");
            }
            String name = lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT);
            String value = lines[i].substring(colon + 1).trim();
            switch (name) {
                case "connection":
                    connection += "," + value.toLowerCase(Locale.ROOT);
                    break;
                case "content-length":
                    bodyLength = contentLength(value, bodyLength);
                    break;
                case "transfer-encoding":
                    throw new Malformed(501, "Transfer-Encoding is not supported, send Content-Length");
                default:
                    break;
            }
        }
        boolean keepAlive = http10 ? hasToken(connection, "keep-alive") : !hasToken(connection, "close");
        return new HttpRequest(requestLine[0], keepAlive, http10, Math.max(0, bodyLength), sleepMillis(requestLine[1]));
    }

    /** Index of the CRLFCRLF that ends the head, or -1. */
    private static int headEnd(ByteBuffer in) {
        for (int i = in.position(); i + 3 < in.limit(); i++) {
            if (in.get(i) == '\r' && in.get(i + 1) == '\n' && in.get(i + 2) == '\r' && in.get(i + 3) == '\n') {
                return i;
            }
        }
        return -1;
    }

    /** The value of a Content-Length header; {@code earlier} is that of a previous one, or -1. */
    private static long contentLength(String value, long earlier) throws Malformed {
        long n = value.matches("[0-9]{1,18}") ? Long.parseLong(value) : -1;
        if (n < 0 || (earlier >= 0 && earlier != n)) {
            throw new Malformed(400, "bad Content-Length '" + value + "'");
        }
        return n;
    }

    private static boolean hasToken(String list, String token) {
        for (String t : list.split(",")) {
            if (t.trim().equals(token)) {
                return true;
            }
        }
        return false;
    }

    /** The {@code sleep} query parameter of {@code target}, 0 without one. */
    private static long sleepMillis(String target) throws Malformed {
        int q = target.indexOf('?');
        if (q < 0) {
            return 0;
        }
        for (String param : target.substring(q + 1).split("&")) {
            if (param.startsWith("sleep=")) {
                String v = param.substring("sleep=".length());
                if (v.matches("[0-9]{1,6}") && Long.parseLong(v) <= MAX_SLEEP_MS) {
                    return Long.parseLong(v);
                }
                throw new Malformed(400, "sleep must be 0 to " + MAX_SLEEP_MS + " milliseconds, got '" + v + "'");
            }
        }
        return 0;
    }
}
