package dev.supervisor.spring;

import java.nio.channels.Channel;
import java.nio.channels.SelectableChannel;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.eclipse.jetty.http.HttpParser;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.io.SelectorManager;
import org.eclipse.jetty.server.NetworkConnector;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.internal.HttpConnection;
import org.eclipse.jetty.util.IO;
import org.eclipse.jetty.util.component.AbstractLifeCycle;

/**
 * A bean of a Jetty connector on a shared listener: when a graceful stop stops the connector, it
 * first waits until no connection the connector took is owed an answer; the selector's stop then
 * closes the rest, idle between keep-alive requests. Spring's graceful shutdown waits only for
 * requests being handled, and the stop would close a connection whose request is still unread
 * (a reset). Owed: accepted and not yet handed to the selector, no request read yet, a request
 * being handled, or bytes of the next one buffered. Once the connector is shut down every answer
 * closes its connection, so accepts and closes are the events waited for, within the connector's
 * idle timeout (what Jetty gives a connection to say something). Added last to the connector, so
 * it stops before the connector's selector.
 *
 * <p>The connector accepts in a selector (no acceptor threads). When it closes (the shutdown), this
 * stops accepting, waits until every selector has run once more, so each channel accepted has been
 * reported ({@link #onAccepting}, on the accepting selector), and only then closes this process's
 * copy of the listener: Jetty leaves it open with no acceptor threads, and closing it while the
 * selector accepts would close the channel just accepted.
 */
final class JettyOwedConnections extends AbstractLifeCycle
        implements SelectorManager.AcceptListener, NetworkConnector.Listener {
    private static final Log LOG = LogFactory.getLog(JettyOwedConnections.class);

    private final ServerConnector connector;
    /** Every connection accepted and not closed, from the selector's accept() on. */
    private final Set<SelectableChannel> taken = ConcurrentHashMap.newKeySet();
    private final OwedWait wait = new OwedWait();

    JettyOwedConnections(ServerConnector connector) {
        this.connector = connector;
    }

    /** The connector's close: on its shutdown, and again when it stops. */
    @Override
    public void onClose(NetworkConnector closed) {
        Object listener = connector.getTransport();
        if (!(listener instanceof Channel) || !((Channel) listener).isOpen()) {
            return;
        }
        connector.setAccepting(false); // queues the cancel of OP_ACCEPT on the accepting selector
        try {
            if (!selectorsRan(connector.getIdleTimeout())) {
                LOG.warn("closing the listener of " + connector + " before its selectors ran; a connection accepted may be reset");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        IO.close((Channel) listener);
    }

    /** True when each running selector ran an update queued now, after those queued before it. */
    private boolean selectorsRan(long timeoutMillis) throws InterruptedException {
        SelectorManager manager = connector.getSelectorManager();
        if (manager == null || !manager.isRunning()) {
            return true; // nothing accepts
        }
        Collection<ManagedSelector> selectors = manager.getBeans(ManagedSelector.class);
        CountDownLatch ran = new CountDownLatch(selectors.size());
        for (ManagedSelector s : selectors) {
            if (s.isRunning()) {
                s.submit(selector -> ran.countDown());
            } else {
                ran.countDown();
            }
        }
        return ran.await(timeoutMillis, TimeUnit.MILLISECONDS);
    }

    @Override
    public void onAccepting(SelectableChannel channel) {
        taken.add(channel);
    }

    @Override
    public void onAccepted(SelectableChannel channel) {
        wait.changed();
    }

    @Override
    public void onAcceptFailed(SelectableChannel channel, Throwable cause) {
        taken.remove(channel);
        wait.changed();
    }

    @Override
    public void onClosed(SelectableChannel channel) {
        taken.remove(channel);
        wait.changed();
    }

    @Override
    protected void doStop() throws Exception {
        if (!connector.isShutdown()) {
            return; // not a graceful stop: Spring's shutdown is immediate
        }
        long bound = connector.getIdleTimeout();
        if (!wait.await(this::owed, bound)) {
            LOG.warn("stopping " + connector + " with connections still owed an answer after " + bound + " ms");
        }
    }

    private boolean owed() {
        Map<Object, EndPoint> endPoints = new HashMap<>();
        for (EndPoint e : connector.getConnectedEndPoints()) {
            endPoints.put(e.getTransport(), e);
        }
        for (SelectableChannel c : taken) {
            EndPoint e = endPoints.get(c);
            if (e == null ? c.isOpen() : e.isOpen() && owed(e)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Only HTTP/1 is looked into; another protocol's connections are left to Jetty, as before. Read
     * in the order a request goes through them (bytes buffered, parser past its start, the request,
     * the parser reset once answered), so that one in flight is never missed between two reads: the
     * parser has consumed the last byte of a request before the request exists. A closed parser
     * is a connection answered and closing.
     */
    private static boolean owed(EndPoint e) {
        if (!(e.getConnection() instanceof HttpConnection)) {
            return false;
        }
        HttpConnection c = (HttpConnection) e.getConnection();
        if (c.getMessagesIn() == 0 || !c.isRequestBufferEmpty()) {
            return true;
        }
        HttpParser p = c.getParser();
        return !(p.isStart() || p.isClose() || p.isClosed()) || c.getHttpChannel().getRequest() != null;
    }
}
