package dev.tollgate.proxy.listener;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;

import org.awaitility.Awaitility;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import dev.tollgate.proxy.config.SidecarConfig;
import dev.tollgate.proxy.metrics.Listener;
import dev.tollgate.proxy.metrics.ProxyMetrics;

/**
 * Closing every connection at shutdown is bounded in time whatever the connections do: with the connection's event
 * loop stuck (as when it waited for direct memory), {@link ConnectionTracker#closeAll(Duration)} gives up waiting at
 * its deadline, closes the socket by force and counts it; before, it waited forever.
 */
class BoundedCloseTest {

    @Test
    void closesByForceAtTheDeadlineWhenAnEventLoopIsStuck() throws Exception {
        Assumptions.assumeTrue(Epoll.isAvailable(), "the epoll transport (the sidecar's on Linux) is not available");
        ProxyMetrics metrics = new ProxyMetrics(new SimpleMeterRegistry(), java.time.Clock.systemUTC());
        ConnectionTracker tracker = new ConnectionTracker(SidecarConfig.Limits.defaults(), metrics);
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        CountDownLatch accepted = new CountDownLatch(1);
        CountDownLatch unstick = new CountDownLatch(1);
        try {
            Channel server = new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            tracker.tryOpen(ch, Listener.INGRESS);
                            accepted.countDown();
                        }
                    }).bind("127.0.0.1", 0).sync().channel();
            try (Socket client = new Socket("127.0.0.1", ((InetSocketAddress) server.localAddress()).getPort())) {
                assertThat(accepted.await(10, TimeUnit.SECONDS)).isTrue();
                // The only event loop is stuck: nothing it owns can close in an orderly way.
                group.next().execute(() -> {
                    try {
                        unstick.await(60, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });

                long t0 = System.nanoTime();
                int forced = tracker.closeAll(Duration.ofMillis(500));
                long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);

                assertThat(forced).isEqualTo(1);
                assertThat(tookMillis).isLessThan(30_000);
                assertThat(metrics.registry().get(ProxyMetrics.SHUTDOWN_FORCED_CLOSES).counter().count())
                        .isEqualTo(1);
                // The socket really is closed: the client reads its end.
                client.setSoTimeout(10_000);
                Awaitility.await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
                        .until(() -> client.getInputStream().read() == -1);
            }
        } finally {
            unstick.countDown();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }
}
