package dev.supervisor.daemon;

/** Decodes a wait(2) status. */
public final class ExitStatus {
    private ExitStatus() {}

    public static boolean exited(int status) {
        return (status & 0x7f) == 0;
    }

    public static int code(int status) {
        return (status >> 8) & 0xff;
    }

    public static int signal(int status) {
        return status & 0x7f;
    }

    /** A wait status for a process that exited with {@code code}. */
    public static int ofCode(int code) {
        return (code & 0xff) << 8;
    }

    /** A wait status for a process killed by {@code signal}. */
    public static int ofSignal(int signal) {
        return signal & 0x7f;
    }

    /** "exited with code 3" / "killed by SIGKILL". */
    public static String describe(int status) {
        if (exited(status)) {
            return "exited with code " + code(status);
        }
        return "killed by " + Signals.name(signal(status));
    }
}
