package dev.supervisor.daemon;

/** A listener that cannot be had: {@link #unavailable} = the system refused (exit 69), else bad input (64). */
public final class ListenerException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final boolean unavailable;

    public ListenerException(String message, boolean unavailable) {
        super(message);
        this.unavailable = unavailable;
    }

    public boolean unavailable() {
        return unavailable;
    }
}
