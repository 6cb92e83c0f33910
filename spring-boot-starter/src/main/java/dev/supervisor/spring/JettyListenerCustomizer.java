package dev.supervisor.spring;

import java.io.IOException;
import java.io.UncheckedIOException;

import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.ServerConnector;

import org.springframework.boot.jetty.ConfigurableJettyWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.core.Ordered;

/**
 * Jetty (servlet or reactive) on a supervisor listener: Boot's connector is opened on the
 * inherited socket ({@code ServerConnector.open(ServerSocketChannel)}, Jetty's way to pass a
 * channel before start), so it never binds. A graceful shutdown closes this process's copy only,
 * and serves every connection already taken before the connector stops ({@link JettyOwedConnections}).
 * No acceptor threads: the selector accepts, so a stop can see every connection accepted (an acceptor
 * thread between accept() and handing the channel over is invisible, and its connection was reset).
 */
final class JettyListenerCustomizer implements WebServerFactoryCustomizer<ConfigurableJettyWebServerFactory>, Ordered {
    /** Null: no listener for this server (an actuator port that has no listener of its own). */
    private final String listener;

    JettyListenerCustomizer(String listener) {
        this.listener = listener;
    }

    @Override
    public void customize(ConfigurableJettyWebServerFactory factory) {
        if (listener == null) {
            return;
        }
        factory.setAcceptors(0);
        factory.addServerCustomizers(server -> {
            for (Connector c : server.getConnectors()) {
                if (c instanceof ServerConnector) {
                    ServerConnector sc = (ServerConnector) c;
                    try {
                        sc.open(SupervisorListeners.channel(listener));
                    } catch (IOException e) {
                        throw new UncheckedIOException("cannot serve on listener '" + listener + "'", e);
                    }
                    // A connection taken keeps its whole idle timeout to send its request, however busy
                    // this JVM (Jetty's shutdown would cut it to 1 s); idle ones are closed by the stop.
                    sc.setShutdownIdleTimeout(-1);
                    sc.addBean(new JettyOwedConnections(sc), true);
                    return;
                }
            }
            throw new IllegalStateException("Jetty has no ServerConnector to serve on listener '" + listener + "'");
        });
    }

    @Override
    public int getOrder() {
        return Ordered.LOWEST_PRECEDENCE;
    }
}
