package dev.supervisor.spring;

import java.util.function.Supplier;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ServerSocketChannel;
import reactor.core.publisher.Mono;
import reactor.netty.resources.LoopResources;

/**
 * Reactor Netty's event loops of the app, except that the server channel it asks for is the
 * supervisor listener. Reactor Netty has no way to take a channel, but it asks its LoopResources
 * for every channel it creates; the loops stay the app's (NIO: the listener is a JDK channel).
 */
final class ListenerLoopResources implements LoopResources {
    private final String listener;
    private final Supplier<LoopResources> loops;
    private final NettyOwedConnections owed;

    ListenerLoopResources(String listener, Supplier<LoopResources> loops, NettyOwedConnections owed) {
        this.listener = listener;
        this.loops = loops;
        this.owed = owed;
    }

    @Override
    public EventLoopGroup onServer(boolean useNative) {
        return loops.get().onServer(false);
    }

    @Override
    public EventLoopGroup onServerSelect(boolean useNative) {
        return loops.get().onServerSelect(false);
    }

    @Override
    public EventLoopGroup onClient(boolean useNative) {
        return loops.get().onClient(false);
    }

    @Override
    public boolean daemon() {
        return loops.get().daemon();
    }

    @Override
    public <C extends Channel> C onChannel(Class<C> channelType, EventLoopGroup group) {
        if (channelType == ServerSocketChannel.class) {
            return channelType.cast(new InheritedNioServerSocketChannel(SupervisorListeners.channel(listener), owed));
        }
        return loops.get().onChannel(channelType, group);
    }

    @Override
    public <C extends Channel> Class<? extends C> onChannelClass(Class<C> channelType, EventLoopGroup group) {
        return loops.get().onChannelClass(channelType, group);
    }

    /** The loops are the app's, disposed by their owner. */
    @Override
    public Mono<Void> disposeLater() {
        return Mono.empty();
    }
}
