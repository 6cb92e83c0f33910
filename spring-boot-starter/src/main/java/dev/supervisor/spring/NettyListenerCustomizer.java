package dev.supervisor.spring;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.core.Ordered;
import org.springframework.http.client.ReactorResourceFactory;

import reactor.netty.http.HttpResources;
import reactor.netty.resources.LoopResources;

/**
 * Reactor Netty (WebFlux) on a supervisor listener, through a server customizer that runs the
 * server on {@link ListenerLoopResources}. Boot would apply the app's ReactorResourceFactory
 * after the customizers, replacing those; so the factory is taken off the server factory here and
 * its loops used underneath instead. A drain serves the connections already taken
 * ({@link NettyOwedConnections}).
 */
final class NettyListenerCustomizer implements WebServerFactoryCustomizer<NettyReactiveWebServerFactory>, Ordered {
    /** Null: no listener for this server (an actuator port that has no listener of its own). */
    private final String listener;
    private final ObjectProvider<ReactorResourceFactory> resources;
    private final NettyOwedConnections owed;

    NettyListenerCustomizer(String listener, ObjectProvider<ReactorResourceFactory> resources, NettyOwedConnections owed) {
        this.listener = listener;
        this.resources = resources;
        this.owed = owed;
    }

    @Override
    public void customize(NettyReactiveWebServerFactory factory) {
        if (listener == null) {
            return;
        }
        factory.setResourceFactory(null);
        LoopResources loops = new ListenerLoopResources(listener, this::appLoops, owed);
        factory.addServerCustomizers(server -> server.runOn(loops, false).childObserve(owed));
    }

    private LoopResources appLoops() {
        ReactorResourceFactory f = resources.getIfAvailable();
        LoopResources l = f == null ? null : f.getLoopResources();
        return l != null ? l : HttpResources.get();
    }

    @Override
    public int getOrder() {
        return Ordered.LOWEST_PRECEDENCE;
    }
}
