package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * COMMAND's arguments and the environment reach the worker byte for byte, whatever the
 * supervisor's locale: the JVM's view of them is text (under LANG unset, "Zürich" was "Z??rich";
 * under C.UTF-8 a byte that is not UTF-8 was U+FFFD and a variable whose name is not UTF-8 was
 * dropped), the kernel's is bytes. The worker, a shell, copies its own /proc/self/cmdline and
 * /proc/self/environ, which are compared here byte for byte.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ArgvEnvBytesIT {
    private static final byte[] ZURICH = {'Z', (byte) 0xc3, (byte) 0xbc, 'r', 'i', 'c', 'h'};
    private static final byte[] NOT_UTF8 = {'x', (byte) 0xff, (byte) 0xfe, 'y'};
    private static final byte[] NAME_NOT_UTF8 = {'N', (byte) 0xff, 'A', 'M', 'E'};
    /**
     * Run by /bin/sh with the supervisor's command line as "$@": adds the bytes that a Java
     * ProcessBuilder cannot pass (it encodes Strings), then execs it.
     */
    private static final String LAUNCH = "a1=$(printf 'Z\\303\\274rich'); a2=$(printf 'x\\377\\376y'); n=$(printf 'N\\377AME')\n"
            + "if [ \"$1\" = config ]; then shift; exec env \"$n=$a2\" \"$@\"; fi\n"
            + "exec env \"GREETING=$a1\" \"$n=$a2\" \"$@\" \"$a1\" \"$a2\"\n";
    /** The worker: its own argv and environment into files, then a line to the FIFO the test waits on. */
    private static final String WORKER = "cat /proc/$$/cmdline >\"$0.cmdline\"; cat /proc/$$/environ >\"$0.environ\"; "
            + "echo done >\"$0.fifo\"; exec sleep 600";

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "LANG={0}")
    @ValueSource(strings = {"", "C.UTF-8"})
    void fromTheCommandLine(String lang) throws Exception {
        Path out = tmp.resolve("w");
        List<String> args = new ArrayList<>(List.of("run", "--control", tmp.resolve("ctl.sock").toString(), "-l", "w=127.0.0.1:0",
                "--ready", "delay:100ms", "--", "/bin/sh", "-c", WORKER, out.toString()));
        List<byte[]> argv = runWorker(lang, out, args);
        assertBytes(ZURICH, argv.get(argv.size() - 2), "a UTF-8 argument");
        assertBytes(NOT_UTF8, argv.get(argv.size() - 1), "an argument that is not UTF-8");
        List<byte[]> env = split(Files.readAllBytes(Path.of(out + ".environ")));
        assertBytes(ZURICH, value(env, "GREETING".getBytes(StandardCharsets.US_ASCII)), "GREETING");
        assertBytes(NOT_UTF8, value(env, NAME_NOT_UTF8), "a variable whose name is not UTF-8");
    }

    @ParameterizedTest(name = "LANG={0}")
    @ValueSource(strings = {"", "C.UTF-8"})
    void fromTheConfigFile(String lang) throws Exception {
        Path out = tmp.resolve("w");
        Path config = tmp.resolve("supervisor.json");
        Files.writeString(config, "{\"listen\":[\"w=127.0.0.1:0\"],\"ready\":\"delay:100ms\",\"command\":[\"/bin/sh\",\"-c\","
                + new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(WORKER) + ",\"" + out
                + "\",\"Z\\u00fcrich\"],\"env\":{\"GREETING\":\"Z\u00fcrich\"}}", StandardCharsets.UTF_8);
        List<byte[]> argv = runWorker(lang, out, List.of("config", "run", "--control", tmp.resolve("ctl.sock").toString(), "-c",
                config.toString()));
        assertBytes(ZURICH, argv.get(argv.size() - 1), "a UTF-8 argument from the config");
        List<byte[]> env = split(Files.readAllBytes(Path.of(out + ".environ")));
        assertBytes(ZURICH, value(env, "GREETING".getBytes(StandardCharsets.US_ASCII)), "GREETING from the config");
        assertBytes(NOT_UTF8, value(env, NAME_NOT_UTF8), "a variable whose name is not UTF-8, inherited");
    }

    /** Starts the supervisor through {@link #LAUNCH} with {@code args}, waits for the worker's report, stops it; the worker's argv. */
    private List<byte[]> runWorker(String lang, Path out, List<String> args) throws Exception {
        Path fifo = Path.of(out + ".fifo");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        List<String> cmd = new ArrayList<>(List.of("/bin/sh", "-c", LAUNCH, "sh"));
        if (args.get(0).equals("config")) {
            cmd.add("config");
            args = args.subList(1, args.size());
        }
        cmd.add(Fixtures.supervisorBin().toString());
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        Map<String, String> env = pb.environment();
        for (String v : List.of("LANG", "LC_ALL", "LC_CTYPE", "LANGUAGE", "JDK_JAVA_OPTIONS", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS")) {
            env.remove(v);
        }
        if (!lang.isEmpty()) {
            env.put("LANG", lang);
        }
        Path log = tmp.resolve("supervisor.log");
        Process p = pb.redirectErrorStream(true).redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        try {
            // Opening the FIFO waits for the worker to open it: the event that it has written its files.
            CompletableFuture<byte[]> done = CompletableFuture.supplyAsync(() -> {
                try {
                    return Files.readAllBytes(fifo);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            try {
                done.get(60, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                throw new AssertionError("the worker did not report within 60 s; supervisor log:\n" + Files.readString(log, StandardCharsets.ISO_8859_1));
            }
            return split(Files.readAllBytes(Path.of(out + ".cmdline")));
        } finally {
            p.destroy(); // TERM: the supervisor drains the worker and exits
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("the supervisor did not stop on TERM");
            }
            Files.deleteIfExists(fifo);
        }
    }

    private static List<byte[]> split(byte[] nulSeparated) {
        List<byte[]> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < nulSeparated.length; i++) {
            if (nulSeparated[i] == 0) {
                out.add(Arrays.copyOfRange(nulSeparated, start, i));
                start = i + 1;
            }
        }
        return out;
    }

    private static byte[] value(List<byte[]> env, byte[] name) {
        for (byte[] e : env) {
            if (e.length > name.length && e[name.length] == '=' && Arrays.equals(e, 0, name.length, name, 0, name.length)) {
                return Arrays.copyOfRange(e, name.length + 1, e.length);
            }
        }
        return null;
    }

    private static void assertBytes(byte[] expected, byte[] actual, String what) {
        assertTrue(actual != null, what + ": missing in the worker");
        assertEquals(HexFormat.of().formatHex(expected), HexFormat.of().formatHex(actual), what);
    }
}
