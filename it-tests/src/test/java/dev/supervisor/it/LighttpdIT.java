package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real lighttpd, unchanged, with {@code server.systemd-socket-activation = "enable"} and no port
 * of its own in the config: it serves files through the socket the supervisor bound.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class LighttpdIT {
    @TempDir
    Path tmp;

    @Test
    void servesThroughTheSupervisorsSocket() throws Exception {
        Path lighttpd = Fixtures.lighttpd();
        Path www = Files.createDirectory(tmp.resolve("www"));
        String content = "hello from lighttpd " + System.nanoTime() + "\n";
        Files.writeString(www.resolve("index.html"), content);
        Path conf = tmp.resolve("lighttpd.conf");
        Files.writeString(conf, String.join("\n",
                "server.document-root = \"" + www + "\"",
                "server.systemd-socket-activation = \"enable\"",
                "index-file.names = ( \"index.html\" )",
                ""));

        try (SupervisorProcess s = SupervisorProcess.run(tmp).listen("web", "127.0.0.1:0").option("--ready", "delay:200ms")
                .command(lighttpd.toString(), "-D", "-f", conf.toString()).start()) {
            int port = s.port("web");
            s.awaitReady(1);

            Http.Response first = Http.get(port, "/index.html");
            assertEquals(200, first.status(), first.toString());
            assertEquals(content, first.body());
            assertTrue(first.headers().getOrDefault("server", "").startsWith("lighttpd"), "answered by lighttpd: " + first.headers());

            Load.Result r = Load.against(port, "/").threads(4).requests(200).deadline(Duration.ofSeconds(30)).countBy(Http.Response::body)
                    .run();
            assertEquals(0, r.failed(), r.toString());
            assertEquals(200, r.answered(), r.toString());
            assertEquals(Map.of(content, 200), r.byKey(), "every answer is the file");

            s.signal("TERM");
            assertEquals(0, s.awaitExit(Duration.ofSeconds(20)));
            s.awaitLine("^supervisor: worker 1\\.0 \\(pid \\d+\\) .*\\(drained\\)$");
        }
    }
}
