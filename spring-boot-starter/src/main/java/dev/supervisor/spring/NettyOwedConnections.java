package dev.supervisor.spring;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.boot.web.server.context.WebServerGracefulShutdownLifecycle;
import org.springframework.context.SmartLifecycle;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import reactor.netty.Connection;
import reactor.netty.ConnectionObserver;
import reactor.netty.http.server.HttpServerState;

/**
 * The drain of a Reactor Netty server on a shared listener. Spring's graceful shutdown
 * ({@code DisposableServer.disposeNow}) closes at once every connection with no request in
 * progress, so also one accepted whose request is not read yet. So just before it (the lifecycle
 * phase above Boot's graceful shutdown) the server channel stops accepting (auto-read off: the
 * other generation accepts what is queued), and the stop waits until every connection it took had
 * its request read (Boot then waits for the answer) or closed, within
 * {@code spring.lifecycle.timeout-per-shutdown-phase}. Connections idle after an answer are closed
 * by Boot, as before.
 */
final class NettyOwedConnections implements SmartLifecycle, ConnectionObserver {
    private static final Log LOG = LogFactory.getLog(NettyOwedConnections.class);
    private static final AttributeKey<Boolean> REQUESTED = AttributeKey.valueOf(NettyOwedConnections.class, "requested");

    private final Duration bound;
    /** Every connection the server channel accepted and that is not closed. */
    private final Set<Channel> taken = ConcurrentHashMap.newKeySet();
    private final OwedWait wait = new OwedWait();
    private volatile Channel server;
    private volatile boolean running;

    NettyOwedConnections(Duration bound) {
        this.bound = bound;
    }

    /** The server channel on the listener. */
    void serving(Channel channel) {
        this.server = channel;
    }

    /** From the server channel's event loop, for each connection it accepts, before it is registered. */
    void accepted(Channel child) {
        taken.add(child);
        child.closeFuture().addListener(f -> {
            taken.remove(child);
            wait.changed();
        });
    }

    @Override
    public void onStateChange(Connection connection, State newState) {
        if (newState == HttpServerState.REQUEST_RECEIVED) {
            connection.channel().attr(REQUESTED).set(Boolean.TRUE);
            wait.changed();
        }
    }

    @Override
    public void start() {
        running = true;
    }

    @Override
    public void stop() {
        running = false;
        Channel s = server;
        if (s == null || !s.isOpen()) {
            return;
        }
        s.config().setAutoRead(false);
        try {
            // Runs after an accept in progress on the channel's loop: from then on, every connection taken is known.
            s.eventLoop().submit(() -> {}).await(bound.toMillis());
            if (!wait.await(this::owed, bound.toMillis())) {
                LOG.warn("draining with connections still owed an answer after " + bound.toMillis() + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private boolean owed() {
        for (Channel c : taken) {
            if (c.isOpen() && c.attr(REQUESTED).get() == null) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** Stopped just before Boot's graceful shutdown of the web server. */
    @Override
    public int getPhase() {
        return WebServerGracefulShutdownLifecycle.SMART_LIFECYCLE_PHASE + 1;
    }
}
