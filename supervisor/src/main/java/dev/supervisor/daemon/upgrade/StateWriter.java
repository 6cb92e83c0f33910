package dev.supervisor.daemon.upgrade;

import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.core.JsonProcessingException;

import dev.supervisor.daemon.Posix;
import dev.supervisor.protocol.Message;

/** Writes a {@link State} as JSON into a memfd that the next image inherits. */
public final class StateWriter {
    private StateWriter() {}

    public static byte[] toBytes(State s) {
        s.format = State.FORMAT;
        try {
            return Message.json().writeValueAsBytes(s);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the upgrade state: " + e.getOriginalMessage(), e);
        }
    }

    /** A memfd holding {@code s}, positioned at its start, not FD_CLOEXEC: the caller owns and closes it. */
    public static int toMemfd(State s) {
        byte[] b = toBytes(s);
        int fd = Posix.memfd("supervisor-upgrade-state");
        try {
            Posix.writeAll(fd, b, "the upgrade state");
            Posix.rewind(fd);
            return fd;
        } catch (RuntimeException e) {
            Posix.close(fd);
            throw e;
        }
    }

    static String text(State s) {
        return new String(toBytes(s), StandardCharsets.UTF_8);
    }
}
