package dev.supervisor.spring;

import java.util.Collection;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

import org.apache.tomcat.util.net.AbstractEndpoint.Handler;
import org.apache.tomcat.util.net.SocketEvent;
import org.apache.tomcat.util.net.SocketWrapperBase;

/**
 * Tomcat's connection handler, plus which connections are owed an answer: every open connection
 * except those idle between keep-alive requests (the handler returned OPEN, Tomcat's "in keep-alive
 * but between requests") and those upgraded (their HTTP request was answered). A connection
 * accepted whose request has not been read yet is owed, and so is one whose request is being read
 * or served. The endpoint waits on this before it stops.
 */
final class TomcatOwedConnections<S> implements Handler<S> {
    private final Handler<S> handler;
    /** Connections whose last processing ended with their request answered; the wrapper's lock serializes processing. */
    private final Set<SocketWrapperBase<S>> answered = ConcurrentHashMap.newKeySet();
    private final OwedWait wait = new OwedWait();

    TomcatOwedConnections(Handler<S> handler) {
        this.handler = handler;
    }

    @Override
    public SocketState process(SocketWrapperBase<S> socket, SocketEvent status) {
        answered.remove(socket);
        SocketState state = handler.process(socket, status);
        if ((state == SocketState.OPEN || state == SocketState.UPGRADED) && !socket.isClosed()) {
            answered.add(socket);
            if (socket.isClosed()) { // released meanwhile
                answered.remove(socket);
            }
        }
        wait.changed();
        return state;
    }

    @Override
    public void release(SocketWrapperBase<S> socket) {
        try {
            handler.release(socket);
        } finally {
            answered.remove(socket);
            wait.changed();
        }
    }

    /**
     * Waits until no connection of {@code connections} is owed an answer, or {@code timeoutMillis}
     * passed; true when none is.
     */
    boolean awaitServed(Supplier<Collection<SocketWrapperBase<S>>> connections, long timeoutMillis) throws InterruptedException {
        return wait.await(() -> owed(connections.get()), timeoutMillis);
    }

    private boolean owed(Collection<SocketWrapperBase<S>> connections) {
        for (SocketWrapperBase<S> c : connections) {
            if (!c.isClosed() && !answered.contains(c)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public Object getGlobal() {
        return handler.getGlobal();
    }

    @Override
    public void pause() {
        handler.pause();
    }

    @Override
    public void recycle() {
        handler.recycle();
    }
}
