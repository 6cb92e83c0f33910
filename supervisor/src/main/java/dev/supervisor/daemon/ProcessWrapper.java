package dev.supervisor.daemon;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import dev.supervisor.protocol.Libc;

/**
 * What runs between the LISTEN_PID shim and COMMAND, in the same process: util-linux setpriv,
 * which sets the parent-death signal (a worker dies with a KILLed supervisor instead of holding
 * the port) and, for --user, drops to that user and its groups. posix_spawn can do neither.
 */
public final class ProcessWrapper {
    private ProcessWrapper() {}

    static final String[] SETPRIV_PATHS = {"/usr/bin/setpriv", "/bin/setpriv"};

    /** The user and group --user names, resolved: workers run as them. */
    public static final class User {
        public final String spec;
        public final int uid;
        public final int gid;

        User(String spec, int uid, int gid) {
            this.spec = spec;
            this.uid = uid;
            this.gid = gid;
        }
    }

    /**
     * Resolves {@code spec} ("name" or "name:group"; null = no --user, returns null).
     *
     * @throws IllegalArgumentException for a user or group that does not exist, or --user
     *     without the privilege to use it
     */
    public static User resolve(String spec) {
        if (spec == null) {
            return null;
        }
        String name = spec;
        String groupName = null;
        int colon = spec.indexOf(':');
        if (colon >= 0) {
            name = spec.substring(0, colon);
            groupName = spec.substring(colon + 1);
        }
        if (name.isEmpty() || name.indexOf('\0') >= 0 || (groupName != null && (groupName.isEmpty() || groupName.indexOf('\0') >= 0))) {
            throw new IllegalArgumentException("--user " + spec.replace('\0', '?') + ": expected USER or USER:GROUP");
        }
        int[] ids = Posix.user(name);
        if (ids == null) {
            throw new IllegalArgumentException("--user " + spec + ": no user '" + name + "'");
        }
        int gid = ids[1];
        if (groupName != null) {
            gid = Posix.group(groupName);
            if (gid < 0) {
                throw new IllegalArgumentException("--user " + spec + ": no group '" + groupName + "'");
            }
        }
        int own = Libc.daemon().getuid();
        if (own != 0 && own != ids[0]) {
            throw new IllegalArgumentException("--user " + spec + " needs the supervisor to run as root (it runs as uid " + own + ")");
        }
        return new User(spec, ids[0], gid);
    }

    /** The wrapper argv for {@code user} (null = none): setpriv, or nothing when it is missing and no user is asked for. */
    public static List<String> build(User user, Log log) {
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
            argv.add("--reuid=" + user.uid);
            argv.add("--regid=" + user.gid);
            argv.add("--init-groups");
        }
        argv.add("--");
        return argv;
    }
}
