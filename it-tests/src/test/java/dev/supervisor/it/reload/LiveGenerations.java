package dev.supervisor.it.reload;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * How many generations are alive at once, two ways. {@link Sampler}: {@code status} over the
 * control socket, again and again while a test runs. {@link #replay}: the supervisor's log, in
 * which every generation's start, readiness, drain and end is a line, so the count after every
 * change is exact. "Live" is every generation listed; the bound the design promises is on the
 * ones not DRAINING: at most one serving and one starting.
 */
final class LiveGenerations {
    private LiveGenerations() {}

    record Peak(int notDraining, int live, String when) {
        @Override
        public String toString() {
            return notDraining + " not draining, " + live + " live (" + when + ")";
        }
    }

    private static final Pattern STARTING = Pattern.compile("^supervisor: starting generation (\\d+):");
    private static final Pattern READY = Pattern.compile("^supervisor: generation (\\d+) ready in .*?(?:; draining generation (\\d+))?$");
    private static final Pattern EXITED = Pattern.compile("^supervisor: generation (\\d+) exited$");

    /**
     * The peak over the supervisor's log, checked after each line. A generation whose reload
     * failed counts as not draining until it has exited, which errs on the strict side.
     */
    static Peak replay(List<String> supervisorLog) {
        Map<Integer, String> state = new TreeMap<>();
        Peak peak = new Peak(0, 0, "no generation");
        for (String l : supervisorLog) {
            Matcher m;
            if ((m = STARTING.matcher(l)).find()) {
                state.put(Integer.parseInt(m.group(1)), "STARTING");
            } else if ((m = READY.matcher(l)).find()) {
                state.put(Integer.parseInt(m.group(1)), "READY");
                if (m.group(2) != null) {
                    state.put(Integer.parseInt(m.group(2)), "DRAINING");
                }
            } else if ((m = EXITED.matcher(l)).find()) {
                state.remove(Integer.parseInt(m.group(1)));
            }
            int notDraining = (int) state.values().stream().filter(s -> !s.equals("DRAINING")).count();
            if (notDraining > peak.notDraining() || (notDraining == peak.notDraining() && state.size() > peak.live())) {
                peak = new Peak(notDraining, state.size(), "after '" + l + "': " + state);
            }
        }
        return peak;
    }

    /** Asks for status over its own control connection until stopped, once per period, and keeps the peak. */
    static final class Sampler implements AutoCloseable {
        private final CountDownLatch stop = new CountDownLatch(1);
        private final Thread thread;
        private final List<String> errors = new ArrayList<>();
        private Peak peak = new Peak(0, 0, "no sample");
        private int samples;
        private boolean sawReloading;

        Sampler(Path control, Duration period) {
            thread = new Thread(() -> run(control, period), "status-sampler");
            thread.setDaemon(true);
            thread.start();
        }

        private void run(Path control, Duration period) {
            try (ControlConnection c = ControlConnection.open(control)) {
                do {
                    JsonNode a = c.call("status", Duration.ofSeconds(10));
                    JsonNode st = a.path("status");
                    int live = st.path("generations").size();
                    int notDraining = 0;
                    List<String> states = new ArrayList<>();
                    for (JsonNode g : st.path("generations")) {
                        states.add(g.path("generation").asInt() + "=" + g.path("state").asText());
                        if (!g.path("state").asText().equals("DRAINING")) {
                            notDraining++;
                        }
                    }
                    synchronized (this) {
                        samples++;
                        sawReloading |= st.path("reloading").asBoolean();
                        if (notDraining > peak.notDraining() || (notDraining == peak.notDraining() && live > peak.live())) {
                            peak = new Peak(notDraining, live, "sample " + samples + ": " + states);
                        }
                    }
                } while (!stop.await(period.toMillis(), TimeUnit.MILLISECONDS)); // the sampling period, not a wait for an event
            } catch (IOException | RuntimeException e) {
                synchronized (this) {
                    errors.add(e.toString());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        synchronized Peak peak() {
            return peak;
        }

        synchronized int samples() {
            return samples;
        }

        synchronized boolean sawReloading() {
            return sawReloading;
        }

        synchronized List<String> errors() {
            return List.copyOf(errors);
        }

        @Override
        public void close() throws InterruptedException {
            stop.countDown();
            thread.join(15_000);
        }
    }
}
