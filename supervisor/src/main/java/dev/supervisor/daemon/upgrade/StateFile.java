package dev.supervisor.daemon.upgrade;

import java.io.IOException;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import dev.supervisor.daemon.Posix;
import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.NativeException;

/**
 * The {@link State} document as it crosses the exec: JSON in a memfd that the new image inherits,
 * its fd named by SUPERVISOR_UPGRADE_STATE. The format is read before anything else: one this
 * build does not know is refused with an error naming both.
 */
public final class StateFile {
    private StateFile() {}

    /** The most a document may take (a few hundred bytes per worker). */
    public static final int MAX_BYTES = 16 << 20;

    private static final ObjectMapper JSON = JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

    /** Whether this build reads documents of {@code format}: the pre-flight asks this of a new installation. */
    public static boolean reads(int format) {
        return format == State.FORMAT;
    }

    public static byte[] toBytes(State s) {
        s.format = State.FORMAT;
        try {
            return JSON.writeValueAsBytes(s);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write the upgrade state: " + e.getMessage(), e);
        }
    }

    /** @throws IllegalArgumentException naming what is wrong: not JSON, no format, an unknown format, a malformed field */
    public static State fromBytes(byte[] bytes) {
        JsonNode tree;
        try {
            tree = JSON.readTree(bytes);
        } catch (IOException e) {
            throw new IllegalArgumentException("the upgrade state is not JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (tree == null || !tree.isObject() || !tree.path("format").isInt()) {
            throw new IllegalArgumentException("the upgrade state has no \"format\"");
        }
        int format = tree.get("format").intValue();
        if (!reads(format)) {
            throw new IllegalArgumentException("the upgrade state is in format " + format + ", and this supervisor (" + Version.current()
                    + ") reads format " + State.FORMAT + " only");
        }
        try {
            return JSON.treeToValue(tree, State.class);
        } catch (IOException e) {
            throw new IllegalArgumentException("the upgrade state (format " + format + ") is malformed: "
                    + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    /** A memfd holding {@code s}, read from its start, not FD_CLOEXEC: the caller owns it. */
    public static int toMemfd(State s) throws NativeException {
        return Posix.memfd("supervisor-upgrade-state", toBytes(s));
    }

    /** Reads the whole of {@code fd} and closes it. */
    public static State fromFd(int fd) throws NativeException {
        try {
            return fromBytes(Posix.readAll(fd, MAX_BYTES, "the upgrade state (fd " + fd + ")"));
        } finally {
            Libc.close(fd);
        }
    }
}
