package dev.supervisor.spring;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.NetworkChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import org.apache.tomcat.util.net.NioChannel;
import org.apache.tomcat.util.net.NioEndpoint;

/**
 * Tomcat's NIO endpoint on an inherited listener instead of a socket it binds. The listener is
 * shared with the supervisor and the other generation, which changes how the endpoint stops:
 *
 * <ul>
 * <li>Tomcat wakes a blocked accept by connecting to its own address, but that connection may
 * reach another process, and this one would then take a client's connection while paused and
 * drop it. So a pause closes this process's copy of the listener instead (the connections still
 * queued are the other generation's), and the acceptor that the close woke waits, silent, until
 * the endpoint has stopped. A connection the acceptor took just before the pause is served.</li>
 * <li>Every connection this process accepted is owed an answer: the client connected to a
 * listener that never stopped listening. Tomcat's pause would close a connection whose request is
 * read after it (Http11Processor.service does not serve while paused) and 503 a request half read;
 * here a pause only stops accepting, and what comes on the connections taken is served with
 * {@code Connection: close}.</li>
 * <li>Spring's graceful shutdown waits only for requests that reached a servlet, then Tomcat's stop
 * closes every connection left in the poller. So a graceful stop first waits, within the
 * connection timeout (what Tomcat gives a connection to send its request), until every connection
 * is answered or idle between keep-alive requests; the idle ones are closed by the stop.</li>
 * </ul>
 */
final class ListenerNioEndpoint extends NioEndpoint {
    /** How often a woken acceptor looks whether the endpoint stopped (Tomcat's own acceptor pauses in 10 ms steps). */
    private static final long STOP_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    /** The bound of the wait for owed connections when the connection timeout is infinite: Tomcat's default connection timeout. */
    private static final long DEFAULT_SERVE_MILLIS = 60_000;

    private volatile String listener;
    private volatile ServerSocketChannel channel;
    private volatile boolean closed;
    /** Set by the acceptor thread while it hands a connection to the poller from {@link #destroySocket}. */
    private boolean rescuing;
    /** The handler Tomcat's protocol sets, wrapped: which connections a graceful stop waits for. */
    private volatile TomcatOwedConnections<NioChannel> owed;

    void listener(String name) {
        this.listener = name;
    }

    @Override
    public void setHandler(Handler<NioChannel> handler) {
        owed = new TomcatOwedConnections<>(handler);
        super.setHandler(owed);
    }

    /** Paused, Tomcat refuses requests; here only accepting stops (the listener copy is closed), the connections taken are served. */
    @Override
    public boolean isPaused() {
        return false;
    }

    /** 1 once accepting stopped: every answer from then on says {@code Connection: close}. */
    @Override
    public int getMaxKeepAliveRequests() {
        return closed ? 1 : super.getMaxKeepAliveRequests();
    }

    @Override
    public void stopInternal() {
        if (isRunning() && getBindState() == BindState.SOCKET_CLOSED_ON_STOP) { // a graceful stop (closeServerSocketGraceful)
            long bound = getConnectionTimeout() > 0 ? getConnectionTimeout() : DEFAULT_SERVE_MILLIS;
            try {
                if (!owed.awaitServed(this::getConnections, bound)) {
                    getLog().warn("stopping with connections still owed an answer after " + bound + " ms on listener '" + listener + "'");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        super.stopInternal();
    }

    @Override
    protected void initServerSocket() throws Exception {
        if (listener == null) {
            throw new IllegalStateException("no supervisor listener was named for this connector");
        }
        ServerSocketChannel c = SupervisorListeners.channel(listener);
        c.configureBlocking(true); // as Tomcat's own: its acceptor blocks in accept()
        closed = false;
        channel = c;
    }

    @Override
    protected NetworkChannel getServerSocket() {
        return channel;
    }

    @Override
    protected SocketChannel serverSocketAccept() throws Exception {
        try {
            return channel.accept();
        } catch (ClosedChannelException e) {
            if (closed) {
                // Woken by unlockAccept: the acceptor reports any failure while the endpoint runs.
                while (isRunning()) {
                    LockSupport.parkNanos(STOP_POLL_NANOS);
                }
            }
            throw e;
        }
    }

    /**
     * The acceptor drops a connection that accept() returned just as the drain paused the
     * endpoint. That client connected to the shared listener and is owed an answer: while the
     * endpoint runs its poller still serves (keep-alive is off by then), so hand it over.
     */
    @Override
    protected void destroySocket(SocketChannel socket) {
        if (closed && isRunning() && !rescuing) {
            rescuing = true;
            boolean served;
            try {
                served = setSocketOptions(socket); // on failure it destroys the socket or leaves it to closeSocket
            } finally {
                rescuing = false;
            }
            if (!served && socket.isOpen()) {
                closeSocket(socket);
            }
            return;
        }
        super.destroySocket(socket);
    }

    @Override
    protected void unlockAccept() {
        closeChannel();
    }

    @Override
    protected void doCloseServerSocket() throws IOException {
        closeChannel();
    }

    private void closeChannel() {
        ServerSocketChannel c = channel;
        if (c == null || closed) {
            return;
        }
        closed = true;
        try {
            c.close(); // only this process's copy: the supervisor's stays open
        } catch (IOException e) {
            getLog().warn("closing listener '" + listener + "' failed", e);
        }
    }
}
