package dev.supervisor.daemon;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import dev.supervisor.protocol.Libc;

/**
 * What runs between the LISTEN_PID shim and COMMAND, in the same process, for --user: util-linux
 * setpriv, which drops to that user and its groups; posix_spawn cannot. No parent-death signal:
 * it is sent when the spawning thread ends, and an upgrade's execve(2) ends every thread but one,
 * which would kill the workers it hands over (DESIGN.md, "Upgrading in place").
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

    /** The wrapper argv for {@code user}: nothing without --user, else setpriv and its options. */
    public static List<String> build(User user) {
        List<String> argv = new ArrayList<>();
        if (user == null) {
            return argv;
        }
        String setpriv = null;
        for (String p : SETPRIV_PATHS) {
            if (Files.isExecutable(Path.of(p))) {
                setpriv = p;
                break;
            }
        }
        if (setpriv == null) {
            throw new IllegalArgumentException("--user needs setpriv (util-linux), which is not installed");
        }
        argv.add(setpriv);
        argv.add("--reuid=" + user.uid);
        argv.add("--regid=" + user.gid);
        argv.add("--init-groups");
        argv.add("--");
        return argv;
    }
}
