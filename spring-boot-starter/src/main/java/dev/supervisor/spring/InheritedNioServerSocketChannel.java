package dev.supervisor.spring;

import java.net.SocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.util.List;

import io.netty.channel.Channel;
import io.netty.channel.socket.nio.NioServerSocketChannel;

/**
 * Netty's NIO server channel on a listener that is bound already: binding it again is a no-op.
 * Each connection it accepts is reported to the drain, which owes it an answer.
 */
final class InheritedNioServerSocketChannel extends NioServerSocketChannel {
    private final NettyOwedConnections owed;

    InheritedNioServerSocketChannel(ServerSocketChannel channel, NettyOwedConnections owed) {
        super(channel);
        this.owed = owed;
        owed.serving(this);
    }

    @Override
    protected int doReadMessages(List<Object> buf) throws Exception {
        int from = buf.size();
        int n = super.doReadMessages(buf);
        for (int i = from; i < buf.size(); i++) {
            owed.accepted((Channel) buf.get(i));
        }
        return n;
    }

    @Override
    protected void doBind(SocketAddress localAddress) {
        // Bound by the supervisor; Reactor Netty's bind address is ignored.
    }
}
