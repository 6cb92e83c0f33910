package dev.supervisor.daemon;

/** A failed system call: names the call with its object, and the errno. */
public final class NativeException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int errno;

    public NativeException(String call, int errno) {
        super(call + " failed: " + Posix.describe(errno));
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
