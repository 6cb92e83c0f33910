package dev.supervisor.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import dev.supervisor.daemon.Environment;

/**
 * The worker COMMAND as the kernel gave it to us. The JVM decodes our arguments in the locale's
 * charset (under LANG=C, {@code Zürich} becomes {@code Z??rich}; under C.UTF-8 a byte that is not
 * UTF-8 becomes U+FFFD), so the bytes are read back from /proc/self/cmdline, whose last entries
 * are main's arguments, one for one.
 */
final class CommandBytes {
    private CommandBytes() {}

    /**
     * The bytes of {@code command}, which picocli took from {@code args} (main's arguments, in
     * order); UTF-8 of the text when /proc/self/cmdline cannot be matched to {@code args}.
     */
    static List<byte[]> of(List<String> args, List<String> command) {
        List<byte[]> raw;
        try {
            raw = Environment.splitNul(Files.readAllBytes(Path.of("/proc/self/cmdline")));
        } catch (IOException e) {
            raw = List.of();
        }
        return of(args, command, raw);
    }

    /** main's arguments {@code args} as the kernel holds them: the last entries of /proc/self/cmdline, else their UTF-8. */
    static List<byte[]> mainArgs(List<String> args) {
        List<byte[]> raw;
        try {
            raw = Environment.splitNul(Files.readAllBytes(Path.of("/proc/self/cmdline")));
        } catch (IOException e) {
            raw = List.of();
        }
        if (raw.size() < args.size()) {
            return args.stream().map(a -> a.getBytes(StandardCharsets.UTF_8)).toList();
        }
        return List.copyOf(raw.subList(raw.size() - args.size(), raw.size()));
    }

    static List<byte[]> of(List<String> args, List<String> command, List<byte[]> cmdline) {
        List<byte[]> utf8 = new ArrayList<>();
        for (String c : command) {
            utf8.add(c.getBytes(StandardCharsets.UTF_8));
        }
        if (cmdline.size() < args.size()) {
            return utf8;
        }
        List<byte[]> tail = cmdline.subList(cmdline.size() - args.size(), cmdline.size());
        for (int i = 0; i < args.size(); i++) {
            if (ascii(tail.get(i)) && !new String(tail.get(i), StandardCharsets.US_ASCII).equals(args.get(i))) {
                return utf8; // not main's arguments after all (a launcher that re-executed with others)
            }
        }
        // The command's words are in args in order, after every option (picocli takes the last
        // positional words): match them from the end.
        List<byte[]> out = new ArrayList<>();
        int a = args.size() - 1;
        for (int c = command.size() - 1; c >= 0; c--) {
            while (a >= 0 && !args.get(a).equals(command.get(c))) {
                a--;
            }
            if (a < 0) {
                return utf8;
            }
            out.add(0, tail.get(a).clone());
            a--;
        }
        return out;
    }

    private static boolean ascii(byte[] b) {
        for (byte x : b) {
            if (x < 0) {
                return false;
            }
        }
        return true;
    }
}
