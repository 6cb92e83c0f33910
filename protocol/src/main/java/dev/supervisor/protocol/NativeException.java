package dev.supervisor.protocol;

import java.io.IOException;

/** A failed system call: the message names the call with its object, and the errno. */
public final class NativeException extends IOException {
    private static final long serialVersionUID = 1L;
    private final int errno;

    /**
     * @param call the call and its object, as in {@code "bind(127.0.0.1:8080)"}
     * @param errno what the call failed with
     */
    public NativeException(String call, int errno) {
        super(call + " failed: " + Libc.describe(errno));
        this.errno = errno;
    }

    /** The errno the call failed with. */
    public int errno() {
        return errno;
    }
}
