package dev.supervisor.daemon;

import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.supervisor.protocol.Message;

/** A supervisor that answers the control socket from memory; it can hold status answers back. */
final class FakeControl implements Control {
    final AtomicInteger statusCalls = new AtomicInteger();
    final AtomicInteger stops = new AtomicInteger();
    /** Counted down by each stop: the control thread answers first and then calls stop(). */
    final java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
    /** Status answers not given yet, while {@link #hold} is set. */
    final BlockingQueue<Runnable> held = new LinkedBlockingQueue<>();
    volatile boolean hold;
    /** What {@link #grant} answers; null = not a current worker. */
    volatile Grant grant;
    volatile ReloadResult reload = ReloadResult.ok(2);

    @Override
    public void status(Consumer<ObjectNode> answer) {
        int n = statusCalls.incrementAndGet();
        Runnable r = () -> answer.accept(Message.json().createObjectNode().put("n", n));
        if (hold) {
            held.add(r);
        } else {
            r.run();
        }
    }

    @Override
    public void reload(Consumer<ReloadResult> done) {
        done.accept(reload);
    }

    @Override
    public void upgrade(Consumer<String> failed) {
        failed.accept("no upgrades here");
    }

    @Override
    public void afterTakeOver(Runnable r) {
        r.run();
    }

    @Override
    public void stop() {
        stops.incrementAndGet();
        stopped.countDown();
    }

    @Override
    public void grant(long[] ancestry, boolean withFds, Consumer<Grant> answer) {
        answer.accept(grant);
    }

    static Grant worker(int pid, int... fds) {
        return new Grant(pid, List.of("web"), fds, null);
    }
}
