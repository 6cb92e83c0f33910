package dev.supervisor.daemon;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * The policy of the directory that holds the control and notify sockets (SECURITY.md): who may
 * enter it, what mode each socket gets, and when an existing directory or socket is refused.
 * Without --user the directory is 0700 and the sockets 0600; with it, the directory is 0710 and
 * the sockets group-accessible, group = the workers'.
 */
final class ControlDirectory {
    private ControlDirectory() {}

    /** The workers' gid when --user names another uid than ours, else -1: then nothing is shared. */
    static int workerGid(ProcessWrapper.User workers, int ownUid) {
        return workers == null || workers.uid == ownUid ? -1 : workers.gid;
    }

    /**
     * Makes {@code dir} ready for our sockets: created 0700 (0710 of the workers' group), or an
     * existing one that is ours and closed to others (no bits for others; for the group at most
     * x, and that only when it is the workers' group), then set to what this run needs. The root
     * and /tmp themselves are taken as they are: the socket's own mode guards it there.
     *
     * @throws IOException naming what is wrong with an existing directory and what to do
     */
    static void prepare(Path dir, int uid, int workerGid) throws IOException {
        if (dir.equals(dir.getRoot()) || dir.toString().equals("/tmp")) {
            return;
        }
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } else {
            PosixFileAttributes a = Files.readAttributes(dir, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            Set<PosixFilePermission> perms = a.permissions();
            boolean others = perms.stream().anyMatch(p -> p.name().startsWith("OTHERS_"));
            boolean groupReadWrite = perms.contains(PosixFilePermission.GROUP_READ) || perms.contains(PosixFilePermission.GROUP_WRITE);
            boolean groupEnters = perms.contains(PosixFilePermission.GROUP_EXECUTE);
            int owner = (Integer) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            int group = (Integer) Files.getAttribute(dir, "unix:gid", LinkOption.NOFOLLOW_LINKS);
            if (!a.isDirectory() || owner != uid || others || groupReadWrite || (groupEnters && group != workerGid)) {
                throw new IOException("control directory " + dir + " must be a directory of mode 0700 owned by uid " + uid
                        + (workerGid >= 0 ? " (or 0710 of group " + workerGid + ", the workers')" : "")
                        + " (it is " + (a.isDirectory() ? "" : "not a directory, ") + PosixFilePermissions.toString(perms)
                        + ", owner " + owner + ", group " + group + "): choose another --control, or fix it");
            }
            String want = workerGid >= 0 ? "rwx--x---" : "rwx------";
            if (!PosixFilePermissions.toString(perms).equals(want) || (workerGid >= 0 && group != workerGid)) {
                // An existing directory is changed only as far as this run needs, and said so.
                Log.STDERR.info("control directory " + dir + ": mode " + PosixFilePermissions.toString(perms) + " set to " + want
                        + (workerGid >= 0 && group != workerGid ? ", group " + group + " to " + workerGid + " (the workers', for --user)" : ""));
            }
        }
        restrict(dir, workerGid, "rwx------", "rwx--x---");
    }

    /**
     * Frees {@code socket} for binding: a stale socket file (no one accepts on it) is removed; a
     * live one means another supervisor runs there.
     *
     * @throws ListenerException when another supervisor answers at {@code socket}
     */
    static void claim(Path socket) throws IOException {
        if (Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            if (!Files.readAttributes(socket, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther()) {
                // Only a socket is ours to replace: a file there is someone's, left as it is.
                throw new ListenerException("control socket path " + socket + " exists and is not a socket: choose another --control, "
                        + "or remove it", false);
            }
            try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
                throw new ListenerException("control socket " + socket + " is in use by another supervisor", true);
            } catch (IOException stale) {
                Files.deleteIfExists(socket);
            }
        }
    }

    /** The control socket: ours only (0600), or also the workers' group's (0660). */
    static void restrictControlSocket(Path socket, int workerGid) throws IOException {
        restrict(socket, workerGid, "rw-------", "rw-rw----");
    }

    /** The notify socket: ours only (0600), or the workers' group may send (0620). */
    static void restrictNotifySocket(Path socket, int workerGid) throws IOException {
        restrict(socket, workerGid, "rw-------", "rw--w----");
    }

    private static void restrict(Path p, int workerGid, String own, String shared) throws IOException {
        if (workerGid >= 0) {
            Files.setAttribute(p, "unix:gid", workerGid, LinkOption.NOFOLLOW_LINKS);
        }
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(workerGid >= 0 ? shared : own));
    }

    /**
     * Workers must traverse every directory above ours to reach the sockets: a warning at start
     * when they cannot, naming the first such directory; null when they can.
     */
    static String unreachable(Path dir, ProcessWrapper.User workers) throws IOException {
        for (Path d = dir; d != null; d = d.getParent()) {
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(d);
            int owner = (Integer) Files.getAttribute(d, "unix:uid");
            int group = (Integer) Files.getAttribute(d, "unix:gid");
            boolean enters = perms.contains(PosixFilePermission.OTHERS_EXECUTE)
                    || (group == workers.gid && perms.contains(PosixFilePermission.GROUP_EXECUTE))
                    || (owner == workers.uid && perms.contains(PosixFilePermission.OWNER_EXECUTE));
            if (!enters) {
                return "warning: --user " + workers.spec + " cannot enter " + d + ": workers will not reach NOTIFY_SOCKET"
                        + " or SUPERVISOR_SOCKET (--ready notify will time out); choose a --control under a directory they can enter";
            }
        }
        return null;
    }
}
