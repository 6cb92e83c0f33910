package dev.supervisor.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The supervisor's stdout goes to a reader that stops reading (as {@code supervisor run ... | sleep
 * 90} would): a worker that logs a 4 KiB line per request keeps serving, every request answered,
 * and once the reader reads again the lost output is reported by a counted notice. Worker output
 * that is not UTF-8 comes through byte for byte.
 */
class OutputPassthroughIT {
    static final Duration STEP = Duration.ofSeconds(30);
    /** 3,000 requests log 12 MiB: far beyond the pipe's 64 KiB and the supervisor's 1 MiB buffer (4 runs). */
    static final int REQUESTS = 3000;

    @TempDir
    Path tmp;

    @Test
    void aReaderThatStopsReadingStallsNoWorkerAndWorkerBytesPassThroughUnchanged() throws Exception {
        try (SupervisorProcess s = SupervisorProcess.run(tmp).rawStdout().listen("web", "127.0.0.1:0").readyNotify()
                .command(RuntimeWorker.command("serve", "--log-bytes", "4096")).start()) {
            int port = s.port("web");
            s.awaitReady(1);
            long pid = Long.parseLong(s.awaitLine("^supervisor: started worker 1\\.0 \\(pid (\\d+)\\)$", STEP).group(1));

            load(port); // warm-up (client, supervisor and worker), so that the two runs below compare
            Load.Result unread = load(port);
            assertEquals(0, unread.failed(), "nobody reads the supervisor's stdout, yet every request is answered: " + unread + s.output().dump());

            Bytes stdout = new Bytes(s.rawStdout());
            String line = stdout.awaitLine("supervisor: dropped ", STEP);
            assertTrue(line.matches("supervisor: dropped [1-9]\\d* bytes of worker output.*"), line);

            Load.Result reading = load(port);
            assertEquals(0, reading.failed(), "with the reader reading: " + reading);
            double ratio = rate(unread) / rate(reading);
            System.err.printf("[OutputPassthroughIT] throughput with stdout unread / read = %.3f (%d req in %d ms / %d req in %d ms)%n",
                    ratio, unread.answered(), unread.took().toMillis(), reading.answered(), reading.took().toMillis());

            byte[] prefix = ("[1.0 " + pid + "] ").getBytes(StandardCharsets.US_ASCII);
            byte[] expected = Arrays.copyOf(prefix, prefix.length + RuntimeWorker.BYTES.length);
            System.arraycopy(RuntimeWorker.BYTES, 0, expected, prefix.length, RuntimeWorker.BYTES.length);
            assertTrue(stdout.contains(expected), "the worker's first line, not UTF-8, came through byte for byte");

            s.signal("TERM");
            assertEquals(0, s.awaitExit(STEP), "graceful stop" + s.output().dump());
        }
    }

    private static Load.Result load(int port) throws InterruptedException {
        return Load.against(port, "/").threads(4).requests(REQUESTS).deadline(Duration.ofSeconds(90)).run();
    }

    private static double rate(Load.Result r) {
        return r.answered() / Math.max(0.001, r.took().toNanos() / 1e9);
    }

    /** Everything read from a stream, by a thread, from now on. */
    static final class Bytes {
        private byte[] got = new byte[1 << 20];
        private int size;

        Bytes(InputStream in) {
            Thread t = new Thread(() -> {
                byte[] buf = new byte[65536];
                try (in) {
                    for (int n; (n = in.read(buf)) > 0; ) {
                        synchronized (this) {
                            if (size + n > got.length) {
                                got = Arrays.copyOf(got, Math.max(got.length * 2, size + n));
                            }
                            System.arraycopy(buf, 0, got, size, n);
                            size += n;
                            notifyAll();
                        }
                    }
                } catch (IOException ignored) {
                    // the process is gone
                }
            }, "raw-stdout");
            t.setDaemon(true);
            t.start();
        }

        /** The line that starts with {@code start}, once there is one (waiting up to {@code timeout}). */
        synchronized String awaitLine(String start, Duration timeout) throws InterruptedException {
            byte[] needle = start.getBytes(StandardCharsets.US_ASCII);
            long deadline = System.nanoTime() + timeout.toNanos();
            int from = 0;
            while (true) {
                int at = indexOf(needle, from);
                int end = at < 0 ? -1 : indexOf(new byte[] {'\n'}, at);
                if (end >= 0) {
                    return new String(got, at, end - at, StandardCharsets.ISO_8859_1);
                }
                from = at >= 0 ? at : Math.max(0, size - needle.length);
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("no line '" + start + "...' on the supervisor's stdout within " + timeout.toMillis() + " ms ("
                            + size + " bytes read)");
                }
                wait(Math.max(1, left / 1_000_000));
            }
        }

        synchronized boolean contains(byte[] needle) {
            return indexOf(needle, 0) >= 0;
        }

        private int indexOf(byte[] needle, int from) {
            outer:
            for (int i = from; i + needle.length <= size; i++) {
                for (int j = 0; j < needle.length; j++) {
                    if (got[i + j] != needle[j]) {
                        continue outer;
                    }
                }
                return i;
            }
            return -1;
        }
    }
}
