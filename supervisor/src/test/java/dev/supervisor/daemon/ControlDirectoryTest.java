package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import dev.supervisor.protocol.Libc;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The control directory's policy on real directories and sockets. */
class ControlDirectoryTest {
    private static final int UID = Libc.daemon().getuid();

    @TempDir
    Path tmp;

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    @Test
    void aMissingDirectoryIsCreatedForUsAlone() throws IOException {
        Path dir = tmp.resolve("a/b");
        ControlDirectory.prepare(dir, UID, -1);
        assertEquals("rwx------", mode(dir));
    }

    @Test
    void anExistingDirectoryOthersCanEnterIsRefusedWithItsMode() throws IOException {
        for (String bad : new String[] {"rwxr-xr-x", "rwxrwx---", "rwx--x---"}) {
            Path dir = Files.createDirectory(tmp.resolve(bad));
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString(bad));
            IOException e = assertThrows(IOException.class, () -> ControlDirectory.prepare(dir, UID, -1));
            assertTrue(e.getMessage().contains("it is " + bad), e.getMessage());
        }
    }

    @Test
    void aDirectoryOfAnotherOwnerIsRefused() throws IOException {
        Path dir = Files.createDirectory(tmp.resolve("d"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        IOException e = assertThrows(IOException.class, () -> ControlDirectory.prepare(dir, UID + 1, -1));
        assertTrue(e.getMessage().contains("owned by uid " + (UID + 1)), e.getMessage());
    }

    @Test
    void theWorkersGroupMayEnterButNotRead() throws IOException {
        int gid = (Integer) Files.getAttribute(tmp, "unix:gid");
        Path dir = tmp.resolve("w");
        ControlDirectory.prepare(dir, UID, gid);
        assertEquals("rwx--x---", mode(dir));
        ControlDirectory.prepare(dir, UID, gid); // ours, as this run needs it: taken again
        Path sock = Files.createFile(dir.resolve("notify.sock"));
        ControlDirectory.restrictNotifySocket(sock, gid);
        assertEquals("rw--w----", mode(sock));
        ControlDirectory.restrictControlSocket(sock, -1);
        assertEquals("rw-------", mode(sock));
    }

    @Test
    void aStaleSocketIsReplacedAndALiveOneRefused() throws IOException {
        Path sock = tmp.resolve("ctl.sock");
        try (ServerSocketChannel live = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            live.bind(UnixDomainSocketAddress.of(sock));
            ListenerException e = assertThrows(ListenerException.class, () -> ControlDirectory.claim(sock));
            assertTrue(e.getMessage().contains("in use by another supervisor"), e.getMessage());
        }
        assertTrue(Files.exists(sock), "a closed channel leaves its socket file: stale");
        ControlDirectory.claim(sock);
        assertFalse(Files.exists(sock));
    }

    @Test
    void nothingIsSharedWithoutAnotherUserForTheWorkers() {
        assertEquals(-1, ControlDirectory.workerGid(null, UID));
    }
}
