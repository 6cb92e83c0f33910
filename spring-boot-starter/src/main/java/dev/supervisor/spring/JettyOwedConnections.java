package dev.supervisor.spring;

import java.nio.channels.SelectableChannel;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.SelectorManager;
import org.eclipse.jetty.server.AbstractConnector;
import org.eclipse.jetty.server.internal.HttpConnection;
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
 */
final class JettyOwedConnections extends AbstractLifeCycle implements SelectorManager.AcceptListener {
    private static final Log LOG = LogFactory.getLog(JettyOwedConnections.class);

    private final AbstractConnector connector;
    /** Every connection accepted and not closed, from the acceptor's accept() on. */
    private final Set<SelectableChannel> taken = ConcurrentHashMap.newKeySet();
    private final OwedWait wait = new OwedWait();

    JettyOwedConnections(AbstractConnector connector) {
        this.connector = connector;
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

    /** Only HTTP/1 is looked into; another protocol's connections are left to Jetty, as before. */
    private static boolean owed(EndPoint e) {
        if (!(e.getConnection() instanceof HttpConnection)) {
            return false;
        }
        HttpConnection c = (HttpConnection) e.getConnection();
        return c.getMessagesIn() == 0 || c.getHttpChannel().getRequest() != null || !c.isRequestBufferEmpty();
    }
}
