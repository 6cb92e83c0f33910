package dev.supervisor.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.supervisor.protocol.Libc;
import dev.supervisor.protocol.Message;
import dev.supervisor.protocol.Wire;
import dev.supervisor.testing.FakeSupervisor;
import dev.supervisor.testing.RawSockets;

/** How a worker finds its listeners, and what it says when it cannot. */
class ListenersTest {
    private static final long PID = 4242;

    @Test
    void inheritedListenersAreFdsFromThreeByName() {
        Listeners l = Listeners.fromEnvironment(Map.of("LISTEN_PID", "4242", "LISTEN_FDS", "2", "LISTEN_FDNAMES", "http:dns"), PID);
        assertEquals(List.of("http", "dns"), l.names());
        assertEquals(3, l.fdOf("http"));
        assertEquals(4, l.fdOf("dns"));
    }

    @Test
    void missingNameListsTheNamesThereAre() {
        Listeners l = Listeners.fromEnvironment(Map.of("LISTEN_PID", "4242", "LISTEN_FDS", "1", "LISTEN_FDNAMES", "http"), PID);
        assertEquals("no listener named 'web': this process has [http] from LISTEN_FDS", message(l, "web"));
    }

    @Test
    void processStartedWithoutListenersSaysHowToStartIt() {
        Listeners l = Listeners.fromEnvironment(Map.of(), PID);
        assertEquals(List.of(), l.names());
        assertEquals("no listener named 'web': this process got no listeners: LISTEN_FDS is not set "
                + "(start it under supervisor run or systemd socket activation)", message(l, "web"));
    }

    @Test
    void childOfTheActivatedProcessIsToldTheFdsAreNotItsOwn() {
        Listeners l = Listeners.fromEnvironment(Map.of("LISTEN_PID", "17", "LISTEN_FDS", "1"), PID);
        assertEquals("no listener named 'web': this process got no listeners: LISTEN_PID=17 is another process, this is 4242 "
                + "(LISTEN_FDS is for the process that was started, not for its children)", message(l, "web"));
    }

    @Test
    void fdsWithoutAPidAreNotTaken() {
        Listeners l = Listeners.fromEnvironment(Map.of("LISTEN_FDS", "1"), PID);
        assertEquals("no listener named 'web': this process got no listeners: "
                + "LISTEN_FDS is set but LISTEN_PID is not, so the fds may belong to another process", message(l, "web"));
    }

    @Test
    void zeroListeners() {
        Listeners l = Listeners.fromEnvironment(Map.of("LISTEN_PID", "4242", "LISTEN_FDS", "0", "LISTEN_FDNAMES", ""), PID);
        assertEquals(List.of(), l.names());
        assertEquals("no listener named 'web': this process got no listeners: LISTEN_FDS=0", message(l, "web"));
    }

    @Test
    void malformedHandOverIsAnErrorEvenForNames() {
        Listeners l = Listeners.fromEnvironment(Map.of("LISTEN_PID", "4242", "LISTEN_FDS", "2", "LISTEN_FDNAMES", "http"), PID);
        assertEquals("its LISTEN_FDS cannot be used: LISTEN_FDNAMES has 1 names, LISTEN_FDS says 2",
                assertThrows(IllegalStateException.class, l::names).getMessage());
        assertEquals("no listener named 'http': its LISTEN_FDS cannot be used: LISTEN_FDNAMES has 1 names, LISTEN_FDS says 2",
                message(l, "http"));
    }

    @Test
    void processThatInheritedNothingAsksTheSupervisor(@TempDir Path dir) throws Exception {
        String path = dir.resolve("control.sock").toString();
        int listener = RawSockets.tcpListener("127.0.0.1");
        String answer = Message.answer(true).set(Message.NAMES, Message.json().valueToTree(List.of("http"))).toString();
        try (FakeSupervisor supervisor = new FakeSupervisor(path, answer, new int[] {listener})) {
            Listeners l = Listeners.fromEnvironment(Map.of(Wire.SUPERVISOR_SOCKET, path), PID);
            assertEquals(Message.request(Message.LISTENERS), supervisor.request().get(10, TimeUnit.SECONDS));
            assertEquals(List.of("http"), l.names());
            int fd = l.fdOf("http");
            assertEquals(RawSockets.localAddress(listener), RawSockets.localAddress(fd));
            assertEquals("no listener named 'web': this process has [http] from the supervisor at " + path, message(l, "web"));
            Libc.close(fd);
        } finally {
            Libc.close(listener);
        }
    }

    @Test
    void refusalBySupervisorIsReported(@TempDir Path dir) throws Exception {
        String path = dir.resolve("control.sock").toString();
        String answer = Message.error("pid 4242 is not a worker of this supervisor").toString();
        try (FakeSupervisor supervisor = new FakeSupervisor(path, answer, new int[0])) {
            Listeners l = Listeners.fromEnvironment(Map.of(Wire.SUPERVISOR_SOCKET, path), PID);
            assertEquals(Message.request(Message.LISTENERS), supervisor.request().get(10, TimeUnit.SECONDS));
            assertEquals("no listener named 'http': this process got no listeners: LISTEN_FDS is not set (start it under supervisor run "
                    + "or systemd socket activation), and asking the supervisor at " + path + " (SUPERVISOR_SOCKET) was refused: "
                    + "pid 4242 is not a worker of this supervisor", message(l, "http"));
        }
    }

    @Test
    void namesAndFdsThatDoNotMatchAreRefused(@TempDir Path dir) throws Exception {
        String path = dir.resolve("control.sock").toString();
        int listener = RawSockets.tcpListener("127.0.0.1");
        String answer = Message.answer(true).set(Message.NAMES, Message.json().valueToTree(List.of("http", "dns"))).toString();
        try (FakeSupervisor supervisor = new FakeSupervisor(path, answer, new int[] {listener})) {
            Listeners l = Listeners.fromEnvironment(Map.of(Wire.SUPERVISOR_SOCKET, path), PID);
            assertEquals(Message.request(Message.LISTENERS), supervisor.request().get(10, TimeUnit.SECONDS));
            assertEquals("this process got no listeners: LISTEN_FDS is not set (start it under supervisor run or systemd socket "
                    + "activation), and asking the supervisor at " + path + " (SUPERVISOR_SOCKET) got 2 names and 1 fds",
                    assertThrows(IllegalStateException.class, l::names).getMessage());
        } finally {
            Libc.close(listener);
        }
    }

    @Test
    void supervisorThatDoesNotAnswerIsReported(@TempDir Path dir) {
        String path = dir.resolve("none.sock").toString();
        Listeners l = Listeners.fromEnvironment(Map.of(Wire.SUPERVISOR_SOCKET, path), PID);
        assertEquals("no listener named 'http': this process got no listeners: LISTEN_FDS is not set (start it under supervisor run "
                + "or systemd socket activation), and asking the supervisor at " + path + " (SUPERVISOR_SOCKET) failed: connect("
                + path + ") failed: ENOENT (No such file or directory)", message(l, "http"));
    }

    private static String message(Listeners l, String name) {
        return assertThrows(IllegalStateException.class, () -> l.fdOf(name)).getMessage();
    }
}
