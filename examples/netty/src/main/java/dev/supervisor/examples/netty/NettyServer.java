package dev.supervisor.examples.netty;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import dev.supervisor.worker.Activation;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.CharsetUtil;
import io.netty.util.concurrent.GlobalEventExecutor;

/**
 * A Netty 4.1 HTTP server on the listener that supervisor hands it: the JDK channel from
 * {@code Activation.serverSocket} goes into {@code new NioServerSocketChannel(channel)}, which the
 * bootstrap registers on the boss group instead of binding a new socket. {@code GET /} answers at
 * once, {@code GET /slow?ms=N} after N ms; keep-alive works.
 *
 * <pre>
 * supervisor run -l http=127.0.0.1:8080 --ready notify -- java -jar supervisor-example-netty.jar
 * </pre>
 *
 * On drain it closes its server channel (stops accepting; the connections still queued are the
 * next generation's), closes idle keep-alive connections, answers what is in flight with
 * {@code Connection: close}, and shuts down once no connection is left.
 *
 * <p>On JDK 24 and later, Netty 4.1 makes the JVM warn that it uses {@code sun.misc.Unsafe}
 * (JEP 498); that is Netty's, not supervisor's.
 */
public final class NettyServer {
    /** Fired down every connection's pipeline when the drain starts. */
    static final Object DRAIN = "drain";

    public static void main(String[] args) throws InterruptedException {
        CountDownLatch drain = new CountDownLatch(1);
        Activation.onDrain(drain::countDown);                                         // supervisor: told to drain

        EventLoopGroup boss = new NioEventLoopGroup(1);
        EventLoopGroup workers = new NioEventLoopGroup();
        ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
        ChannelFactory<ServerChannel> inherited =
                () -> new NioServerSocketChannel(Activation.serverSocket("http"));   // supervisor: the socket, by name
        Channel server = new ServerBootstrap()
                .group(boss, workers)
                .channelFactory(inherited)
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object child) {
                        connections.add((Channel) child); // on accept, so that the drain sees every connection
                        ctx.fireChannelRead(child);
                    }
                })
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(65536), new Hello());
                    }
                })
                .register() // not bind(): the socket is bound and listening already
                .sync().channel();
        Activation.ready();                                                           // supervisor: now serving
        System.out.println("serving " + server.localAddress());

        drain.await();
        server.close().sync(); // this process's copy only: the supervisor's socket stays open
        System.out.println("draining: stopped accepting, " + connections.size() + " connection(s) to finish");
        connections.forEach(ch -> ch.pipeline().fireUserEventTriggered(DRAIN));
        connections.newCloseFuture().await(30, TimeUnit.SECONDS);
        boss.shutdownGracefully(0, 5, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
        System.out.println("drained: exiting");
    }

    /** Answers each request; one per connection, so it knows whether its connection is idle when the drain comes. */
    static final class Hello extends SimpleChannelInboundHandler<FullHttpRequest> {
        private boolean busy;
        private boolean answeredOne;
        private boolean draining;

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            busy = true;
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            QueryStringDecoder uri = new QueryStringDecoder(request.uri());
            if (uri.path().equals("/slow")) {
                long ms = Long.parseLong(uri.parameters().getOrDefault("ms", List.of("1000")).get(0));
                System.out.println("slow request: answering in " + ms + " ms");
                ctx.executor().schedule(() -> answer(ctx, keepAlive), ms, TimeUnit.MILLISECONDS);
            } else {
                answer(ctx, keepAlive);
            }
        }

        private void answer(ChannelHandlerContext ctx, boolean keepAlive) {
            keepAlive &= !draining;
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                    Unpooled.copiedBuffer(hello(), CharsetUtil.UTF_8));
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
            HttpUtil.setContentLength(response, response.content().readableBytes());
            HttpUtil.setKeepAlive(response, keepAlive);
            busy = false;
            answeredOne = true;
            ctx.writeAndFlush(response).addListener(keepAlive ? ChannelFutureListener.CLOSE_ON_FAILURE : ChannelFutureListener.CLOSE);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
            if (event == DRAIN) {
                draining = true;
                if (answeredOne && !busy) {
                    ctx.close(); // idle keep-alive: nothing to finish (a new connection may still send its request)
                }
            }
            super.userEventTriggered(ctx, event);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // the client went away, or sent no HTTP
        }
    }

    /** {"server":"netty","generation":G,"pid":P}: G is supervisor's generation number. */
    static String hello() {
        String generation = System.getenv("SUPERVISOR_GENERATION");
        return "{\"server\":\"netty\",\"generation\":" + (generation == null ? "null" : generation) + ",\"pid\":"
                + ProcessHandle.current().pid() + "}";
    }
}
