package dev.supervisor.protocol;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import jnr.ffi.Pointer;

/**
 * A struct msghdr with one iovec and a control buffer in native memory, for sendmsg(2) and
 * recvmsg(2): the one place that knows the layout of msghdr, iovec and cmsghdr (LP64 Linux).
 * Not part of the worker API. One instance per thread; reusable for any number of calls.
 */
public final class MsgHdr {
    private static final int MSGHDR_BYTES = 56, MSG_IOV = 16, MSG_IOVLEN = 24, MSG_CONTROL = 32, MSG_CONTROLLEN = 40, MSG_FLAGS = 48;
    private static final int IOVEC_BYTES = 16;
    private static final int CMSG_HEADER = 16, CMSG_LEVEL = 8, CMSG_TYPE = 12;

    /** One control message: its level, type and data. */
    public record Cmsg(int level, int type, ByteBuffer data) {
        /** The data as ints in native order: the fds of SCM_RIGHTS, {pid, uid, gid} of SCM_CREDENTIALS. */
        public int[] ints() {
            int[] v = new int[data.remaining() / 4];
            data.duplicate().order(ByteOrder.nativeOrder()).asIntBuffer().get(v);
            return v;
        }
    }

    private final Pointer msg = Libc.allocate(MSGHDR_BYTES);
    private final Pointer iov = Libc.allocate(IOVEC_BYTES);
    private final Pointer control;
    private final int controlCapacity;
    private Pointer data;

    /** A header whose control buffer holds {@code controlBytes}. */
    public MsgHdr(int controlBytes) {
        controlCapacity = controlBytes;
        control = controlBytes > 0 ? Libc.allocate(controlBytes) : null;
        msg.putAddress(MSG_IOV, iov.address());
        msg.putLong(MSG_IOVLEN, 1);
    }

    /** Control buffer bytes for {@code fds} fds of SCM_RIGHTS: CMSG_SPACE. */
    public static int rightsSpace(int fds) {
        return CMSG_HEADER + (int) align(4L * fds);
    }

    /** The data of the next call: {@code length} bytes of {@code buffer} from {@code offset}. */
    public MsgHdr data(Pointer buffer, long offset, long length) {
        data = buffer;
        iov.putAddress(0, buffer.address() + offset);
        iov.putLong(8, length);
        return this;
    }

    /** The next sendmsg carries {@code fds} as SCM_RIGHTS (none when empty). */
    public MsgHdr rights(int[] fds) {
        if (fds.length == 0) {
            msg.putAddress(MSG_CONTROL, 0L);
            msg.putLong(MSG_CONTROLLEN, 0);
            return this;
        }
        int space = rightsSpace(fds.length);
        if (space > controlCapacity) {
            throw new IllegalArgumentException(fds.length + " fds need " + space + " control bytes; this header has " + controlCapacity);
        }
        control.setMemory(0, space, (byte) 0);
        control.putLong(0, CMSG_HEADER + 4L * fds.length);
        control.putInt(CMSG_LEVEL, Libc.SOL_SOCKET);
        control.putInt(CMSG_TYPE, Libc.SCM_RIGHTS);
        control.put(CMSG_HEADER, fds, 0, fds.length);
        msg.putAddress(MSG_CONTROL, control.address());
        msg.putLong(MSG_CONTROLLEN, space);
        return this;
    }

    /** sendmsg(2), retried on EINTR: the bytes sent, or -1 with errno set. */
    public long send(int fd, int flags) {
        long n;
        do {
            n = Libc.calls().sendmsg(fd, msg, flags);
        } while (n < 0 && Libc.errno() == Libc.EINTR);
        Reference.reachabilityFence(this); // msg, iov and control, which the kernel read
        Reference.reachabilityFence(data);
        return n;
    }

    /** recvmsg(2) with the whole control buffer offered, retried on EINTR: the bytes read, or -1 with errno set. */
    public long receive(int fd, int flags) {
        msg.putAddress(0, 0L); // msg_name
        msg.putInt(8, 0);
        msg.putAddress(MSG_CONTROL, control == null ? 0L : control.address());
        msg.putLong(MSG_CONTROLLEN, controlCapacity);
        msg.putInt(MSG_FLAGS, 0);
        long n;
        do {
            n = Libc.calls().recvmsg(fd, msg, flags);
        } while (n < 0 && Libc.errno() == Libc.EINTR);
        Reference.reachabilityFence(this); // msg, iov and control, which the kernel wrote
        Reference.reachabilityFence(data);
        return n;
    }

    /** Whether the kernel cut the control data of the last receive (MSG_CTRUNC). */
    public boolean controlTruncated() {
        return (msg.getInt(MSG_FLAGS) & Libc.MSG_CTRUNC) != 0;
    }

    /** The control messages of the last receive, in order. */
    public List<Cmsg> controlMessages() {
        List<Cmsg> out = new ArrayList<>();
        long length = Math.min(msg.getLong(MSG_CONTROLLEN), controlCapacity);
        long offset = 0;
        while (offset + CMSG_HEADER <= length) {
            long cmsgLen = control.getLong(offset);
            if (cmsgLen < CMSG_HEADER || offset + cmsgLen > length) {
                break;
            }
            byte[] bytes = new byte[(int) (cmsgLen - CMSG_HEADER)];
            control.get(offset + CMSG_HEADER, bytes, 0, bytes.length);
            out.add(new Cmsg(control.getInt(offset + CMSG_LEVEL), control.getInt(offset + CMSG_TYPE), ByteBuffer.wrap(bytes)));
            offset += align(cmsgLen);
        }
        return out;
    }

    private static long align(long n) {
        return (n + 7) & ~7L;
    }
}
