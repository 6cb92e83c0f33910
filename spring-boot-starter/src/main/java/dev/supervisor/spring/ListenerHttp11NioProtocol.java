package dev.supervisor.spring;

import org.apache.coyote.http11.Http11NioProtocol;

/**
 * Tomcat's HTTP/1.1 NIO protocol on a supervisor listener. Public with a no-argument
 * constructor because Tomcat creates the protocol of a connector from its class name
 * ({@code TomcatWebServerFactory.setProtocol}); the listener is set afterwards, by a connector
 * customizer.
 */
public class ListenerHttp11NioProtocol extends Http11NioProtocol {
    public ListenerHttp11NioProtocol() {
        super(new ListenerNioEndpoint());
    }

    void listener(String name) {
        ((ListenerNioEndpoint) getEndpoint()).listener(name);
    }
}
