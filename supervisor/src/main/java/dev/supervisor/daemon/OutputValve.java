package dev.supervisor.daemon;

import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;

/**
 * The supervisor's own stdout or stderr, which must never block the ones who write to it (the
 * output pump, and through it every worker; the supervisor loop's log lines). Writers only append
 * to a bounded buffer; one thread writes it out, blocking as long as the reader makes it. When the
 * buffer is full, whole lines are dropped and counted, and once the reader takes output again a
 * line {@code supervisor: dropped N bytes of worker output} says how much was lost, where it was.
 */
public final class OutputValve {
    /** Buffered per stream before lines are dropped (see SECURITY.md). */
    static final int CAPACITY = 1024 * 1024;
    /** Bytes handed to one write(2). */
    private static final int BATCH = 64 * 1024;

    public static final OutputValve STDOUT = new OutputValve(new FileOutputStream(FileDescriptor.out), "stdout", CAPACITY);
    public static final OutputValve STDERR = new OutputValve(new FileOutputStream(FileDescriptor.err), "stderr", CAPACITY);

    private final OutputStream out;
    private final String name;
    private final int capacity;
    /** Guarded by this: lines not written yet, their size, and what was dropped since the last batch. */
    private final ArrayDeque<byte[]> pending = new ArrayDeque<>();
    private int buffered;
    private long droppedOutput;
    private long droppedLog;
    /** Guarded by this: the writer thread is inside write(2). */
    private boolean writing;
    private Thread writer;

    OutputValve(OutputStream out, String name, int capacity) {
        this.out = out;
        this.name = name;
        this.capacity = capacity;
    }

    /** Worker output: one whole line, {@code \n} included, passed on as the bytes it is. */
    void workerLine(byte[] line) {
        offer(line, false);
    }

    /** One of the supervisor's own log lines. */
    public void logLine(String text) {
        offer((text + "\n").getBytes(StandardCharsets.UTF_8), true);
    }

    private synchronized void offer(byte[] line, boolean log) {
        if (buffered + line.length > capacity) {
            if (log) {
                droppedLog += line.length;
            } else {
                droppedOutput += line.length;
            }
            return;
        }
        pending.add(line);
        buffered += line.length;
        if (writer == null) {
            writer = new Thread(this::writeLoop, "output-" + name);
            writer.setDaemon(true);
            writer.start();
        }
        notifyAll();
    }

    /** Waits up to {@code timeout} for what is buffered to be written (at exit; a stuck reader only costs the wait). */
    public synchronized void flush(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (!pending.isEmpty() || writing || droppedOutput + droppedLog > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0 || writer == null) {
                    return;
                }
                wait(Math.max(1, left / 1_000_000));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void writeLoop() {
        ByteArrayOutputStream batch = new ByteArrayOutputStream(BATCH);
        while (true) {
            long lostOutput;
            long lostLog;
            synchronized (this) {
                while (pending.isEmpty() && droppedOutput + droppedLog == 0) {
                    writing = false;
                    notifyAll();
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                writing = true;
                batch.reset();
                while (!pending.isEmpty() && batch.size() < BATCH) {
                    byte[] line = pending.poll();
                    buffered -= line.length;
                    batch.writeBytes(line);
                }
                // Lines dropped so far came after everything still pending: report them once it is out.
                lostOutput = pending.isEmpty() ? droppedOutput : 0;
                lostLog = pending.isEmpty() ? droppedLog : 0;
                if (pending.isEmpty()) {
                    droppedOutput = 0;
                    droppedLog = 0;
                }
                notifyAll();
            }
            if (lostOutput + lostLog > 0) {
                batch.writeBytes(notice(lostOutput, lostLog).getBytes(StandardCharsets.UTF_8));
            }
            try {
                batch.writeTo(out);
                out.flush();
            } catch (IOException gone) {
                // the reader closed its end (EPIPE): nothing can be shown, and nobody must wait for it
            }
        }
    }

    static String notice(long output, long log) {
        String s = "supervisor: dropped " + output + " bytes of worker output";
        if (log > 0) {
            s += " and " + log + " bytes of its own log";
        }
        return s + " (" + "the reader of the supervisor's output did not keep up)\n";
    }
}
