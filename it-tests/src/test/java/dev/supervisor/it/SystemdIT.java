package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The supervisor run by a harness that plays systemd: systemd-socket-activate binds the port and
 * passes it as LISTEN_FDS (name "web"), and a NOTIFY_SOCKET that the test reads. The supervisor
 * must use the inherited socket instead of binding, and report READY=1, RELOADING=1 + READY=1
 * around a reload, and STOPPING=1.
 */
class SystemdIT {
    private static final Duration WAIT = Duration.ofSeconds(20);

    @TempDir
    Path tmp;

    @Test
    void inheritedListenerAndSdNotifyAroundAReload() throws Exception {
        Path dir = Fixtures.privateDir(tmp);
        Path notify = dir.resolve("notify.sock");
        Path control = dir.resolve("ctl.sock");
        int port;
        try (ServerSocket free = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = free.getLocalPort();
        }
        Output reader = new Output();
        Process notifier = start(reader, List.of(Fixtures.python(), "-u", resource("notify_reader.py").toString(), notify.toString()));
        Output out = new Output();
        Process systemd = null;
        try {
            reader.await(0, null, Pattern.compile("^BOUND"), WAIT);
            // The --listen address names a port nobody listens on: only the inherited socket can serve.
            systemd = start(out, List.of("systemd-socket-activate", "-l", "127.0.0.1:" + port, "--fdname=web",
                    "-E", "NOTIFY_SOCKET=" + notify, "-E", "PATH=" + System.getenv("PATH"),
                    Fixtures.supervisorBin().toString(), "run", "-l", "web=127.0.0.1:1", "--ready", "notify", "--control", control.toString(),
                    "--", Fixtures.python(), "-u", Fixtures.script("worker.py").toString(), "http"));
            out.await(0, null, Pattern.compile("^Listening on 127\\.0\\.0\\.1:" + port), WAIT);
            // systemd-socket-activate starts the program at the first connection.
            Http.Response first = Http.get(port, "/");
            assertEquals(200, first.status());
            out.await(0, null, Pattern.compile("^supervisor: listening web=tcp://127\\.0\\.0\\.1:" + port + " \\(inherited\\)$"), WAIT);
            int mark = reader.size();
            reader.await(0, null, Pattern.compile("^NOTIFY READY=1\\|STATUS=serving generation 1$"), WAIT);

            SupervisorProcess.Cli reload = cli("reload", "--control", control.toString());
            assertEquals(0, reload.exit(), reload.stderr());
            Output.Match reloading = reader.await(mark, null, Pattern.compile("^NOTIFY RELOADING=1\\|MONOTONIC_USEC=(\\d+)$"), WAIT);
            long usec = Long.parseLong(reloading.group(1));
            assertTrue(usec > 0);
            reader.await(reloading.index() + 1, null, Pattern.compile("^NOTIFY READY=1\\|STATUS=serving generation 2$"), WAIT);
            assertEquals(2, new com.fasterxml.jackson.databind.ObjectMapper().readTree(Http.get(port, "/").body()).path("generation").asInt(),
                    "generation 2 answers on the inherited socket");

            int beforeStop = reader.size();
            systemd.toHandle().destroy(); // SIGTERM, as systemd's stop would send
            assertTrue(systemd.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS), "supervisor stops on TERM");
            assertEquals(0, systemd.exitValue());
            reader.await(beforeStop, null, Pattern.compile("^NOTIFY STOPPING=1$"), WAIT);
        } finally {
            if (systemd != null) {
                systemd.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
                systemd.destroyForcibly();
            }
            notifier.destroyForcibly();
        }
    }

    private static SupervisorProcess.Cli cli(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Fixtures.supervisorBin().toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).start();
        String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String stderr = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS));
        return new SupervisorProcess.Cli(p.exitValue(), stdout, stderr);
    }

    private static Process start(Output out, List<String> cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).start();
        pump(out, p.getInputStream(), Output.Stream.STDOUT);
        pump(out, p.getErrorStream(), Output.Stream.STDERR);
        return p;
    }

    private static void pump(Output out, java.io.InputStream in, Output.Stream stream) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    System.out.println("systemd-it " + stream + "| " + line);
                    out.add(stream, line);
                }
            } catch (IOException ignored) {
                // the process is gone
            } finally {
                out.ended(stream);
            }
        });
        t.setDaemon(true);
        t.start();
    }

    private static Path resource(String name) throws URISyntaxException {
        return Path.of(SystemdIT.class.getResource("/systemd/" + name).toURI());
    }
}
