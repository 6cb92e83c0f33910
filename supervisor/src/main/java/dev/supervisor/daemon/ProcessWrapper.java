package dev.supervisor.daemon;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What runs between the LISTEN_PID shim and COMMAND, in the same process: util-linux setpriv,
 * which sets the parent-death signal (a worker dies with a KILLed supervisor instead of holding
 * the port) and, for --user, drops to that user and its groups. posix_spawn can do neither.
 */
public final class ProcessWrapper {
    private ProcessWrapper() {}

    static final String[] SETPRIV_PATHS = {"/usr/bin/setpriv", "/bin/setpriv"};

    /**
     * The wrapper argv for {@code user} ("name" or "name:group", null = none).
     *
     * @throws IllegalArgumentException for a user or group that does not exist, or --user
     *     without the privilege to use it
     */
    public static List<String> build(String user, Log log) {
        String setpriv = null;
        for (String p : SETPRIV_PATHS) {
            if (Files.isExecutable(Path.of(p))) {
                setpriv = p;
                break;
            }
        }
        List<String> argv = new ArrayList<>();
        if (setpriv == null) {
            if (user != null) {
                throw new IllegalArgumentException("--user needs setpriv (util-linux), which is not installed");
            }
            log.info("setpriv (util-linux) not found: workers will not be killed if the supervisor is");
            return argv;
        }
        argv.add(setpriv);
        argv.add("--pdeathsig=KILL");
        if (user != null) {
            String name = user;
            String groupName = null;
            int colon = user.indexOf(':');
            if (colon >= 0) {
                name = user.substring(0, colon);
                groupName = user.substring(colon + 1);
            }
            int[] ids = Posix.user(name);
            if (ids == null) {
                throw new IllegalArgumentException("--user " + user + ": no user '" + name + "'");
            }
            int gid = ids[1];
            if (groupName != null) {
                gid = Posix.group(groupName);
                if (gid < 0) {
                    throw new IllegalArgumentException("--user " + user + ": no group '" + groupName + "'");
                }
            }
            int own = Posix.libc().getuid();
            if (own != 0 && own != ids[0]) {
                throw new IllegalArgumentException("--user " + user + " needs the supervisor to run as root (it runs as uid " + own + ")");
            }
            argv.add("--reuid=" + ids[0]);
            argv.add("--regid=" + gid);
            argv.add("--init-groups");
        }
        argv.add("--");
        return argv;
    }
}
