package dev.supervisor.daemon.upgrade;

import java.io.IOException;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import dev.supervisor.daemon.Posix;

/**
 * Reads the {@link State} the previous image left in an inherited fd. The format is checked
 * before anything else is read: an unknown one is refused with an error naming both formats.
 */
public final class StateReader {
    private StateReader() {}

    /** The most a state document may take (a few KiB per worker). */
    static final int MAX_BYTES = 16 << 20;

    private static final ObjectMapper JSON = JsonMapper.builder().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

    /** Whether this build reads documents of {@code format}: the pre-flight asks this of a new installation. */
    public static boolean reads(int format) {
        return format == State.FORMAT;
    }

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

    /** Reads the whole of {@code fd} and closes it. */
    public static State fromFd(int fd) {
        try {
            return fromBytes(Posix.readAll(fd, MAX_BYTES, "the upgrade state"));
        } finally {
            Posix.close(fd);
        }
    }
}
