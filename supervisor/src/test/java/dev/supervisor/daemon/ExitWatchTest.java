package dev.supervisor.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/** Exit hooks run once the watched process has exited, not before, for many processes at once. */
class ExitWatchTest {
    private final List<String> logged = new ArrayList<>();
    private final Log log = logged::add;

    @Test
    void theHookRunsWhenTheProcessExits() throws Exception {
        ExitWatch exits = ExitWatch.start(log);
        Process cat = new ProcessBuilder("cat").start(); // exits when its stdin closes
        CountDownLatch exited = new CountDownLatch(1);
        exits.watch((int) cat.pid(), exited::countDown);
        assertEquals(1, exited.getCount(), "cat still runs");
        cat.getOutputStream().close();
        assertTrue(exited.await(10, TimeUnit.SECONDS), "the hook ran after cat exited");
        assertTrue(logged.isEmpty(), "pidfd_open worked: " + logged);
    }

    @Test
    void everyWatchedProcessIsSeenToExit() throws Exception {
        ExitWatch exits = ExitWatch.start(log);
        List<Process> cats = new ArrayList<>();
        CountDownLatch exited = new CountDownLatch(20);
        for (int i = 0; i < 20; i++) {
            Process cat = new ProcessBuilder("cat").start();
            cats.add(cat);
            exits.watch((int) cat.pid(), exited::countDown);
        }
        for (Process cat : cats) {
            cat.getOutputStream().close();
        }
        assertTrue(exited.await(10, TimeUnit.SECONDS), exited.getCount() + " of 20 hooks did not run");
    }
}
