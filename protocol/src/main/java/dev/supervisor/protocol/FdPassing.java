package dev.supervisor.protocol;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import jnr.ffi.Pointer;

/**
 * One line of text with file descriptors attached (SCM_RIGHTS), over a Unix stream socket: how
 * the supervisor hands listeners to a worker that did not inherit them.
 *
 * <p>The kernel takes at most {@link Wire#SCM_MAX_FD} fds per message, so more fds travel on
 * several messages: every message but the last carries one byte of the line and up to 253 fds,
 * the last carries the rest of the line. The receiver reads until the newline and collects the fds
 * of every message, so it needs no count up front. Received fds are FD_CLOEXEC.
 */
public final class FdPassing {
    private FdPassing() {}

    /** A line (without its newline) and the fds that came with it; the receiver owns the fds. */
    public record Received(String line, int[] fds) {}

    /** What one recvmsg brought: a number of bytes and the fds attached to them. */
    private record Chunk(int bytes, int[] fds) {}

    /**
     * Connects to the Unix socket at {@code path}, sends {@code request} and returns the answer
     * line with its fds. Blocks until the answer is complete.
     *
     * @param path the socket's path, or '@' and an abstract name
     * @param request one line, without its newline
     * @return the answer and the fds that came with it, which the caller now owns
     * @throws IOException naming the call that failed
     */
    public static Received request(String path, String request) throws IOException {
        Libc.Calls c = Libc.calls();
        int fd = Libc.check(c.socket(Libc.AF_UNIX, Libc.SOCK_STREAM | Libc.SOCK_CLOEXEC, 0), "socket(AF_UNIX, SOCK_STREAM)");
        try {
            byte[] address;
            try {
                address = Libc.unixAddress(path);
            } catch (IllegalArgumentException e) {
                throw new IOException(e.getMessage());
            }
            if (c.connect(fd, address, address.length) != 0) {
                throw Libc.failure("connect(" + path + ")");
            }
            send(fd, request, new int[0]);
            return receive(fd);
        } finally {
            c.close(fd);
        }
    }

    /**
     * Sends {@code line} and a newline on {@code socket}, with {@code fds} attached. The fds stay
     * open here: the receiver gets its own copies.
     *
     * @param socket a connected Unix stream socket
     * @param line one line, without its newline
     * @param fds the fds to attach, in the order the receiver will get them
     * @throws IOException naming the call that failed
     */
    public static void send(int socket, String line, int[] fds) throws IOException {
        byte[] bytes = (line + "\n").getBytes(StandardCharsets.UTF_8);
        int messages = Math.max(1, (fds.length + Wire.SCM_MAX_FD - 1) / Wire.SCM_MAX_FD);
        if (bytes.length < messages) {
            throw new IllegalArgumentException(fds.length + " fds need a line of at least " + messages + " bytes, got " + bytes.length);
        }
        Pointer data = Libc.allocate(bytes.length);
        data.put(0, bytes, 0, bytes.length);
        MsgHdr msg = new MsgHdr(MsgHdr.rightsSpace(Math.min(fds.length, Wire.SCM_MAX_FD)));
        int offset = 0;
        for (int m = 0; m < messages; m++) {
            int from = m * Wire.SCM_MAX_FD;
            int count = Math.min(Wire.SCM_MAX_FD, fds.length - from);
            int end = m == messages - 1 ? bytes.length : offset + 1;
            // The fds go with the first sendmsg; a short write sends the rest of the bytes alone.
            offset += sendmsg(msg, socket, data, offset, end - offset, Arrays.copyOfRange(fds, from, from + count));
            while (offset < end) {
                offset += sendmsg(msg, socket, data, offset, end - offset, new int[0]);
            }
        }
    }

    /**
     * Reads one line from {@code socket} and every fd that arrives with it.
     *
     * @param socket a connected Unix stream socket
     * @return the line without its newline, and the fds, which the caller now owns
     * @throws IOException when the peer closes before the newline, the line exceeds
     *     {@link Wire#MAX_REQUEST_BYTES}, or fds were cut off (then none are kept open)
     */
    public static Received receive(int socket) throws IOException {
        Pointer data = Libc.allocate(Wire.MAX_REQUEST_BYTES);
        MsgHdr msg = new MsgHdr(MsgHdr.rightsSpace(Wire.SCM_MAX_FD));
        int length = 0;
        int[] fds = new int[0];
        try {
            while (true) {
                Chunk chunk = recvmsg(msg, socket, data, length, Wire.MAX_REQUEST_BYTES - length);
                fds = concat(fds, chunk.fds());
                int n = chunk.bytes();
                if (n == 0) {
                    throw new IOException("peer closed the connection after " + length + " bytes, before the end of the line");
                }
                int newline = indexOf(data, length, n, (byte) '\n');
                length += n;
                if (newline >= 0) {
                    byte[] line = new byte[newline];
                    data.get(0, line, 0, newline);
                    return new Received(new String(line, StandardCharsets.UTF_8), fds);
                }
                if (length == Wire.MAX_REQUEST_BYTES) {
                    throw new IOException("line longer than " + Wire.MAX_REQUEST_BYTES + " bytes");
                }
            }
        } catch (IOException | RuntimeException e) {
            for (int fd : fds) {
                Libc.close(fd);
            }
            throw e;
        }
    }

    private static int sendmsg(MsgHdr msg, int socket, Pointer data, int offset, int length, int[] fds) throws IOException {
        long sent = msg.data(data, offset, length).rights(fds).send(socket, Libc.MSG_NOSIGNAL);
        if (sent < 0) {
            throw Libc.failure("sendmsg(fd " + socket + ", " + fds.length + " fds)");
        }
        return (int) sent;
    }

    /** One recvmsg into {@code data} at {@code offset}. */
    private static Chunk recvmsg(MsgHdr msg, int socket, Pointer data, int offset, int length) throws IOException {
        long n = msg.data(data, offset, length).receive(socket, Libc.MSG_CMSG_CLOEXEC);
        if (n < 0) {
            throw Libc.failure("recvmsg(fd " + socket + ")");
        }
        int[] fds = new int[0];
        for (MsgHdr.Cmsg m : msg.controlMessages()) {
            if (m.level() == Libc.SOL_SOCKET && m.type() == Libc.SCM_RIGHTS) {
                fds = concat(fds, m.ints());
            }
        }
        if (msg.controlTruncated()) {
            for (int fd : fds) {
                Libc.close(fd);
            }
            // Our buffer holds the kernel's maximum, so the kernel dropped fds it could not install.
            throw new IOException("recvmsg(fd " + socket + "): some fds were dropped (MSG_CTRUNC): is this process at its open file limit (ulimit -n)?");
        }
        return new Chunk((int) n, fds);
    }

    private static int indexOf(Pointer data, int from, int length, byte b) {
        for (int i = from; i < from + length; i++) {
            if (data.getByte(i) == b) {
                return i;
            }
        }
        return -1;
    }

    private static int[] concat(int[] a, int[] b) {
        if (b.length == 0) {
            return a;
        }
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
