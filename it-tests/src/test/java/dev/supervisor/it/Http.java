package dev.supervisor.it;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The smallest honest HTTP client: one {@code GET} over a plain socket to 127.0.0.1, HTTP/1.0 (the
 * server closes after the answer), with connect and read timeouts. What fails surfaces as the
 * socket's own exception, so a caller can tell refused from reset from timed out.
 */
public final class Http {
    private Http() {}

    public static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    static final Duration READ_TIMEOUT = Duration.ofSeconds(15);
    private static final int MAX_RESPONSE = 1 << 20;

    public record Response(int status, Map<String, String> headers, String body) {
        @Override
        public String toString() {
            return status + " " + (body.length() > 200 ? body.substring(0, 200) + "..." : body.strip());
        }
    }

    /** A response that is not HTTP. */
    static final class MalformedResponse extends IOException {
        private static final long serialVersionUID = 1L;

        MalformedResponse(String message) {
            super(message);
        }
    }

    public static Response get(int port, String path) throws IOException {
        return get(port, path, CONNECT_TIMEOUT, READ_TIMEOUT);
    }

    /** {@link #get} on a thread of its own, for a request that must be in flight while the test acts. */
    public static java.util.concurrent.CompletableFuture<Response> getAsync(int port, String path) {
        java.util.concurrent.CompletableFuture<Response> f = new java.util.concurrent.CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                f.complete(get(port, path));
            } catch (IOException | RuntimeException e) {
                f.completeExceptionally(e);
            }
        }, "http-get-" + port + path);
        t.setDaemon(true);
        t.start();
        return f;
    }

    public static Response get(int port, String path, Duration connectTimeout, Duration readTimeout) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), (int) connectTimeout.toMillis());
            s.setSoTimeout((int) readTimeout.toMillis());
            OutputStream out = s.getOutputStream();
            out.write(("GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1:" + port + "\r\nUser-Agent: supervisor-it\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return parse(readAll(s.getInputStream()));
        }
    }

    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        byte[] chunk = new byte[8192];
        for (int n; (n = in.read(chunk)) >= 0; ) {
            buf.write(chunk, 0, n);
            if (buf.size() > MAX_RESPONSE) {
                throw new MalformedResponse("response longer than " + MAX_RESPONSE + " bytes");
            }
        }
        return buf.toByteArray();
    }

    static Response parse(byte[] raw) throws IOException {
        if (raw.length == 0) {
            throw new EOFException("connection closed with no response");
        }
        String text = new String(raw, StandardCharsets.ISO_8859_1);
        int end = text.indexOf("\r\n\r\n");
        if (!text.startsWith("HTTP/1.") || end < 0) {
            throw new MalformedResponse("not an HTTP response: " + text.substring(0, Math.min(100, text.length())));
        }
        String[] head = text.substring(0, end).split("\r\n");
        String[] statusLine = head[0].split(" ", 3);
        int status;
        try {
            status = Integer.parseInt(statusLine[1]);
        } catch (RuntimeException e) {
            throw new MalformedResponse("bad status line: " + head[0]);
        }
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < head.length; i++) {
            int colon = head[i].indexOf(':');
            if (colon > 0) {
                headers.put(head[i].substring(0, colon).trim().toLowerCase(java.util.Locale.ROOT), head[i].substring(colon + 1).trim());
            }
        }
        String body = new String(raw, end + 4, raw.length - end - 4, StandardCharsets.UTF_8);
        String length = headers.get("content-length");
        if (length != null && Integer.parseInt(length) != raw.length - end - 4) {
            throw new MalformedResponse("body has " + (raw.length - end - 4) + " bytes, Content-Length says " + length);
        }
        return new Response(status, headers, body);
    }
}
