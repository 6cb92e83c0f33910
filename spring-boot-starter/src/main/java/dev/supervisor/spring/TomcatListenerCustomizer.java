package dev.supervisor.spring;

import org.springframework.boot.tomcat.TomcatWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.core.Ordered;

/**
 * Tomcat (servlet or reactive) on a supervisor listener: the connector's protocol becomes
 * {@link ListenerHttp11NioProtocol}, which takes the inherited socket where Tomcat would bind.
 * Runs after Boot's own customizers; everything else about the connector stays Boot's.
 */
final class TomcatListenerCustomizer implements WebServerFactoryCustomizer<TomcatWebServerFactory>, Ordered {
    /** Null: no listener for this server (an actuator port that has no listener of its own). */
    private final String listener;

    TomcatListenerCustomizer(String listener) {
        this.listener = listener;
    }

    @Override
    public void customize(TomcatWebServerFactory factory) {
        if (listener == null) {
            return;
        }
        factory.setProtocol(ListenerHttp11NioProtocol.class.getName());
        factory.addConnectorCustomizers(connector -> {
            if (connector.getProtocolHandler() instanceof ListenerHttp11NioProtocol) {
                ((ListenerHttp11NioProtocol) connector.getProtocolHandler()).listener(listener);
            }
        });
    }

    @Override
    public int getOrder() {
        return Ordered.LOWEST_PRECEDENCE;
    }
}
