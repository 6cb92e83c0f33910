package dev.supervisor.protocol;

/**
 * Every name, limit and code that crosses a process boundary, defined once. The supervisor, its
 * CLI and the worker library all use these constants; DESIGN.md is their prose form.
 */
public final class Wire {
    private Wire() {}

    /** Protocol version carried in every control request and answer ({@code "v"}). */
    public static final int PROTOCOL_VERSION = 1;

    // Environment handed to workers (systemd's socket activation names, then ours).
    public static final String LISTEN_FDS = "LISTEN_FDS";
    public static final String LISTEN_PID = "LISTEN_PID";
    public static final String LISTEN_FDNAMES = "LISTEN_FDNAMES";
    public static final String NOTIFY_SOCKET = "NOTIFY_SOCKET";
    public static final String SUPERVISOR_SOCKET = "SUPERVISOR_SOCKET";
    /** Set by the supervisor for its own next image only (an upgrade): the fd of the state it hands over. */
    public static final String SUPERVISOR_UPGRADE_STATE = "SUPERVISOR_UPGRADE_STATE";
    /** Set by the supervisor for an upgrade's pre-flight: check that this installation takes over the state on stdin, and exit. */
    public static final String SUPERVISOR_UPGRADE_CHECK = "SUPERVISOR_UPGRADE_CHECK";
    public static final String SUPERVISOR_GENERATION = "SUPERVISOR_GENERATION";
    public static final String SUPERVISOR_WORKER = "SUPERVISOR_WORKER";
    /** The signal that tells a worker to drain ("TERM", "USR1", ...), when not TERM; for the Java library. */
    public static final String SUPERVISOR_DRAIN_SIGNAL = "SUPERVISOR_DRAIN_SIGNAL";
    /** Default control socket path for the CLI and the daemon. */
    public static final String SUPERVISOR_CONTROL = "SUPERVISOR_CONTROL";
    public static final String JDK_JAVA_OPTIONS = "JDK_JAVA_OPTIONS";

    /** First inherited fd, as sd_listen_fds(3) defines it. */
    public static final int LISTEN_FDS_START = 3;
    /**
     * Largest LISTEN_FDS taken as a hand-over: the kernel's default fs.nr_open, past which no
     * process can hold the fds. A larger count is malformed, not a reason to allocate gigabytes.
     */
    public static final int MAX_LISTEN_FDS = 1 << 20;
    /** The kernel's limit of fds in one SCM_RIGHTS message. */
    public static final int SCM_MAX_FD = 253;
    /** sizeof(sockaddr_un.sun_path) on Linux, including the terminating NUL. */
    public static final int SUN_PATH_MAX = 108;
    /** A listener name as LISTEN_FDNAMES allows it. */
    public static final String NAME_PATTERN = "[A-Za-z0-9_.-]{1,255}";
    /** Largest control request line the supervisor reads; longer ones are refused. */
    public static final int MAX_REQUEST_BYTES = 64 * 1024;

    // Exit codes (sysexits.h where one fits).
    public static final int EXIT_OK = 0;
    /** The supervisor answered {"ok": false}: a reload that failed (the old generation serves), a refused request. */
    public static final int EXIT_FAILED = 1;
    public static final int EXIT_NO_SUPERVISOR = 2;
    public static final int EXIT_USAGE = 64;
    public static final int EXIT_UNAVAILABLE = 69;
    public static final int EXIT_SOFTWARE = 70;

    // sd_notify(3) keys.
    public static final String READY = "READY=1";
    public static final String STOPPING = "STOPPING=1";
    public static final String RELOADING = "RELOADING=1";
    public static final String STATUS_PREFIX = "STATUS=";
}
