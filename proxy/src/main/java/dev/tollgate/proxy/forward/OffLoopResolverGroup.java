package dev.tollgate.proxy.forward;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Executor;

import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import io.netty.resolver.InetNameResolver;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Promise;

/**
 * Resolves upstream host names on a separate executor so that the JDK's blocking resolver never runs on an event
 * loop. IP literals are answered inline.
 */
public final class OffLoopResolverGroup extends AddressResolverGroup<InetSocketAddress> {
    private final Executor blocking;

    public OffLoopResolverGroup(Executor blocking) {
        this.blocking = blocking;
    }

    @Override
    protected AddressResolver<InetSocketAddress> newResolver(EventExecutor executor) {
        return new Resolver(executor, blocking).asAddressResolver();
    }

    private static final class Resolver extends InetNameResolver {
        private final Executor blocking;

        Resolver(EventExecutor executor, Executor blocking) {
            super(executor);
            this.blocking = blocking;
        }

        @Override
        protected void doResolve(String host, Promise<InetAddress> promise) {
            byte[] literal = NetUtil.createByteArrayFromIpAddressString(host);
            if (literal != null) {
                try {
                    promise.setSuccess(InetAddress.getByAddress(host, literal));
                } catch (UnknownHostException e) {
                    promise.setFailure(e);
                }
                return;
            }
            blocking.execute(() -> {
                try {
                    promise.trySuccess(InetAddress.getByName(host));
                } catch (UnknownHostException | RuntimeException e) {
                    promise.tryFailure(e);
                }
            });
        }

        @Override
        protected void doResolveAll(String host, Promise<List<InetAddress>> promise) {
            byte[] literal = NetUtil.createByteArrayFromIpAddressString(host);
            if (literal != null) {
                try {
                    promise.setSuccess(Collections.singletonList(InetAddress.getByAddress(host, literal)));
                } catch (UnknownHostException e) {
                    promise.setFailure(e);
                }
                return;
            }
            blocking.execute(() -> {
                try {
                    promise.trySuccess(List.of(InetAddress.getAllByName(host)));
                } catch (UnknownHostException | RuntimeException e) {
                    promise.tryFailure(e);
                }
            });
        }
    }
}
