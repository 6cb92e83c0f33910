package dev.supervisor.spring;

import java.net.SocketAddress;
import java.nio.channels.ServerSocketChannel;

import io.netty.channel.socket.nio.NioServerSocketChannel;

/** Netty's NIO server channel on a listener that is bound already: binding it again is a no-op. */
final class InheritedNioServerSocketChannel extends NioServerSocketChannel {
    InheritedNioServerSocketChannel(ServerSocketChannel channel) {
        super(channel);
    }

    @Override
    protected void doBind(SocketAddress localAddress) {
        // Bound by the supervisor; Reactor Netty's bind address is ignored.
    }
}
