package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/** A reader that stops reading never blocks the writers: lines are dropped, counted, and reported once it reads again. */
class OutputValveTest {
    /** Blocks every write until released, like a pipe nobody reads. */
    static final class StuckReader extends OutputStream {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final ByteArrayOutputStream got = new ByteArrayOutputStream();

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            synchronized (got) {
                got.write(b, off, len);
            }
        }

        String text() {
            synchronized (got) {
                return got.toString(StandardCharsets.ISO_8859_1);
            }
        }
    }

    @Test
    void aStuckReaderCostsDroppedLinesAndANoticeNeverABlockedWriter() throws Exception {
        StuckReader reader = new StuckReader();
        OutputValve valve = new OutputValve(reader, "test", 1000);
        byte[] line = new byte[100];
        line[line.length - 1] = '\n';
        valve.workerLine(line);
        assertTrue(reader.entered.await(5, TimeUnit.SECONDS), "the writer thread is stuck in write");
        for (int i = 0; i < 50; i++) {
            valve.workerLine(line); // returns at once: 10 fit in the buffer, 40 are dropped
        }
        valve.logLine("supervisor: a log line of its own");
        reader.release.countDown();
        valve.flush(Duration.ofSeconds(5));
        String out = reader.text();
        assertTrue(out.endsWith("supervisor: dropped 4000 bytes of worker output and 34 bytes of its own log"
                + " (the reader of the supervisor's output did not keep up)\n"), out.substring(Math.max(0, out.length() - 200)));
        assertEquals(11 * 100, out.indexOf("supervisor: dropped"), "the 11 lines taken before the notice");
    }

    @Test
    void workerBytesPassThroughAsTheyAre() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        OutputValve valve = new OutputValve(out, "test", 1000);
        byte[] line = {'Z', (byte) 0xC3, (byte) 0xBC, 'r', (byte) 0xFF, (byte) 0x80, '\n'};
        valve.workerLine(line);
        valve.flush(Duration.ofSeconds(5));
        assertArrayEquals(line, out.toByteArray());
    }
}
