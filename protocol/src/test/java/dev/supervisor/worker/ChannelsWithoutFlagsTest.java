package dev.supervisor.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import dev.supervisor.testing.RawSockets;

/** What a user sees who runs the library in a JVM started without the flags it needs. */
class ChannelsWithoutFlagsTest {

    /** Run in a child JVM: wraps a fresh listener and prints what went wrong. */
    public static final class Probe {
        public static void main(String[] args) {
            int fd = RawSockets.tcpListener("127.0.0.1");
            try {
                Channels.serverSocket(fd, "http");
                System.out.println("wrapped without flags");
            } catch (IllegalStateException e) {
                System.out.println(e.getMessage());
            }
        }
    }

    @Test
    void errorNamesTheFlagsToAdd() throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Probe.class.getName())
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start();
        List<String> out = List.of(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n"));
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM did not exit");
        assertEquals(0, p.exitValue());
        String message = out.get(out.size() - 1);
        assertTrue(message.startsWith("cannot wrap listener 'http' (fd "), message);
        String flags = "start the JVM with --add-opens java.base/sun.nio.ch=ALL-UNNAMED"
                + (Runtime.version().feature() >= 24 ? " --enable-native-access=ALL-UNNAMED" : "");
        assertTrue(message.contains(flags), message);
    }
}
