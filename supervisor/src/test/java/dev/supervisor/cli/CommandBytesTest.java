package dev.supervisor.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;

/** {@link CommandBytes}: the worker's words come from /proc/self/cmdline, not from the JVM's decoding of them. */
class CommandBytesTest {
    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    @Test
    void theCommandIsTakenFromTheKernelsBytes() {
        // Under LANG=C the JVM decoded "Z\xc3\xbcrich" as "Z??rich", and "\xff" as "?".
        List<String> args = List.of("run", "-l", "w=:1", "--", "app", "Z??rich", "?");
        List<byte[]> cmdline = List.of(b("/usr/bin/java"), b("-Xmx64m"), b("dev.supervisor.Main"), b("run"), b("-l"), b("w=:1"),
                b("--"), b("app"), b("Z\u00c3\u00bcrich"), b("\u00ff"));
        List<byte[]> out = CommandBytes.of(args, List.of("app", "Z??rich", "?"), cmdline);
        assertEquals(3, out.size());
        assertArrayEquals(b("app"), out.get(0));
        assertArrayEquals(new byte[] {'Z', (byte) 0xc3, (byte) 0xbc, 'r', 'i', 'c', 'h'}, out.get(1));
        assertArrayEquals(new byte[] {(byte) 0xff}, out.get(2));
    }

    @Test
    void aCmdlineThatIsNotOursFallsBackToUtf8() {
        List<String> args = List.of("run", "--", "app", "Zürich");
        List<byte[]> out = CommandBytes.of(args, List.of("app", "Zürich"), List.of(b("java"), b("other"), b("--"), b("x"), b("y")));
        assertArrayEquals("Zürich".getBytes(StandardCharsets.UTF_8), out.get(1));
        out = CommandBytes.of(args, List.of("app", "Zürich"), List.of(b("x")));
        assertArrayEquals("Zürich".getBytes(StandardCharsets.UTF_8), out.get(1));
    }
}
