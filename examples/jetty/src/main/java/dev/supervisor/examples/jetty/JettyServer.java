package dev.supervisor.examples.jetty;

import java.io.IOException;
import java.nio.channels.SelectableChannel;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.SelectorManager;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;
import org.eclipse.jetty.util.component.Graceful;

import dev.supervisor.worker.Activation;

/**
 * A Jetty 12 server on the listener that supervisor hands it: {@code ServerConnector.open(channel)}
 * takes the JDK channel from {@code Activation.serverSocket} instead of binding a new socket.
 * {@code GET /} answers at once, {@code GET /slow?ms=N} after N ms.
 *
 * <pre>
 * supervisor run -l http=127.0.0.1:8080 --ready notify -- java -jar supervisor-example-jetty.jar
 * </pre>
 *
 * On drain it stops gracefully: Jetty closes the channel (stops accepting; the connections still
 * queued are the next generation's), answers what is in flight with {@code Connection: close},
 * waits for its connections to close, then stops.
 */
public final class JettyServer {
    /** How long a graceful stop waits for connections, and how long a request in flight may go without I/O meanwhile. */
    static final long DRAIN_MILLIS = 10_000;

    public static void main(String[] args) throws Exception {
        CountDownLatch drain = new CountDownLatch(1);
        Activation.onDrain(drain::countDown);                 // supervisor: told to drain

        Server server = new Server();
        AcceptedConnections accepted = new AcceptedConnections();
        ServerConnector http = accepted.connector(server);
        http.open(Activation.serverSocket("http"));           // supervisor: the socket, by name, instead of a bind
        http.setShutdownIdleTimeout(DRAIN_MILLIS);
        server.addConnector(http);
        server.setStopTimeout(DRAIN_MILLIS); // stop() is graceful: stop accepting, let open connections finish
        server.setHandler(new Hello());
        server.start();
        Activation.ready();                                   // supervisor: now serving
        System.out.println("serving " + http.getLocalPort());

        drain.await();
        System.out.println("draining: stopping gracefully");
        // Stop taking connections before the stop begins: an acceptor blocked in accept() is
        // woken by closing our copy of the listener (the supervisor's stays open for the next
        // generation), and whatever it took before that is served while the server still runs.
        http.setAccepting(false);
        Activation.serverSocket("http").close();
        accepted.awaitAcceptorsOut(DRAIN_MILLIS);
        server.stop();
        System.out.println("drained: exiting");
    }

    static final class Hello extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
            if (Request.getPathInContext(request).equals("/slow")) {
                Fields query = Request.extractQueryParameters(request);
                long ms = query.get("ms") == null ? 1000 : Long.parseLong(query.get("ms").getValue());
                System.out.println("slow request: answering in " + ms + " ms");
                request.getComponents().getScheduler().schedule(() -> Content.Sink.write(response, true, hello(), callback),
                        ms, TimeUnit.MILLISECONDS);
            } else {
                Content.Sink.write(response, true, hello(), callback);
            }
            return true;
        }
    }

    /**
     * Makes the graceful stop wait for every connection from the moment the acceptor takes it
     * until it closes. Jetty's own graceful stop waits for the connections it has registered, but
     * it registers one asynchronously after the accept: a connection taken just as the stop
     * closed the channel could be closed unanswered when the stop finished first. Workers that
     * share a listener drain while clients keep connecting, so that moment comes up.
     */
    static final class AcceptedConnections extends Graceful.Shutdown implements SelectorManager.AcceptListener, Connection.Listener {
        /** Connections taken and not closed, plus one while the acceptor is in accept() or hands one over. */
        private final AtomicInteger open = new AtomicInteger();
        /** Acceptor threads inside accept(); guarded by this. */
        private int inAccept;

        AcceptedConnections() {
            super("accepted connections");
        }

        /** A ServerConnector that counts its connections here. */
        ServerConnector connector(Server server) {
            ServerConnector connector = new ServerConnector(server) {
                @Override
                public void accept(int acceptorId) throws IOException {
                    open.incrementAndGet();
                    acceptorIn();
                    try {
                        super.accept(acceptorId); // a connection it takes is counted (onAccepting) before this returns
                    } finally {
                        acceptorOut();
                        closed();
                    }
                }
            };
            connector.addEventListener(this);
            return connector;
        }

        @Override
        public void onAccepting(SelectableChannel channel) {
            open.incrementAndGet();
        }

        @Override
        public void onAcceptFailed(SelectableChannel channel, Throwable cause) {
            closed();
        }

        @Override
        public void onClosed(Connection connection) {
            closed();
        }

        private void closed() {
            open.decrementAndGet();
            check();
        }

        @Override
        public boolean isShutdownDone() {
            return open.get() == 0;
        }

        /** Waits until no acceptor is inside accept() (or {@code millis} passed). */
        synchronized void awaitAcceptorsOut(long millis) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            for (long left = millis; inAccept > 0 && left > 0; left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())) {
                wait(left);
            }
        }

        private synchronized void acceptorIn() {
            inAccept++;
        }

        private synchronized void acceptorOut() {
            inAccept--;
            notifyAll();
        }
    }

    /** {"server":"jetty","generation":G,"pid":P}: G is supervisor's generation number. */
    static String hello() {
        String generation = System.getenv("SUPERVISOR_GENERATION");
        return "{\"server\":\"jetty\",\"generation\":" + (generation == null ? "null" : generation) + ",\"pid\":"
                + ProcessHandle.current().pid() + "}";
    }
}
