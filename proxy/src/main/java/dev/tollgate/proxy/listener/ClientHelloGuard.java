package dev.tollgate.proxy.listener;

import java.nio.charset.StandardCharsets;
import java.util.Set;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

import dev.tollgate.proxy.metrics.HandshakeResult;
import dev.tollgate.proxy.metrics.Listener;
import dev.tollgate.proxy.metrics.ProxyMetrics;
import dev.tollgate.proxy.metrics.TlsVersionTag;

/**
 * Reads the ClientHello (the first TLS record) before the TLS handler and refuses, with the alert the RFCs name, what BoringSSL through
 * netty would let through:
 * <ul>
 *   <li>an ALPN list with none of our protocols ({@code no_application_protocol}, RFC 7301 §3.2; netty's OpenSSL
 *       provider can only ignore the extension). A ClientHello without ALPN is HTTP/1.1 as before.</li>
 *   <li>a TLS 1.2 client that can verify no signature scheme stronger than SHA-1: a {@code signature_algorithms}
 *       extension listing only SHA-1 (or MD5) schemes, or none at all, which in TLS 1.2 means SHA-1
 *       ({@code handshake_failure}). The server then always signs with SHA-256 or stronger: BoringSSL picks its most
 *       preferred scheme the client lists.</li>
 * </ul>
 * Counted as a handshake failure of its kind; a ClientHello that cannot be parsed goes on to the TLS handler, which
 * refuses it.
 */
final class ClientHelloGuard extends ChannelInboundHandlerAdapter {
    /** The protocols the ingress listener speaks. */
    static final Set<String> HTTP_PROTOCOLS = Set.of("h2", "http/1.1");
    static final byte ALERT_HANDSHAKE_FAILURE = 40;
    static final byte ALERT_NO_APPLICATION_PROTOCOL = 120;
    /** The largest TLS record (plaintext, with the allowed expansion): a first record beyond it is not ours to read. */
    private static final int MAX_RECORD = 16384 + 2048;
    private static final int EXT_SIGNATURE_ALGORITHMS = 13;
    private static final int EXT_ALPN = 16;
    private static final int EXT_SUPPORTED_VERSIONS = 43;

    private final Listener listener;
    private final ProxyMetrics metrics;
    private final Set<String> protocols;
    /** The bytes of the first record read so far. */
    private ByteBuf first;

    /** @param protocols the ALPN protocols accepted; null: ALPN is not checked (a listener without ALPN) */
    ClientHelloGuard(Listener listener, ProxyMetrics metrics, Set<String> protocols) {
        this.listener = listener;
        this.metrics = metrics;
        this.protocols = protocols;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf b)) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (first == null) {
            first = ctx.alloc().buffer(Math.max(512, b.readableBytes()));
        }
        first.writeBytes(b);
        b.release();
        if (first.readableBytes() < 5) {
            return;
        }
        int recordLength = first.getUnsignedShort(first.readerIndex() + 3);
        if (first.getByte(first.readerIndex()) != 22 || recordLength > MAX_RECORD) {
            passOn(ctx);
            return;
        }
        if (first.readableBytes() < 5 + recordLength) {
            return;
        }
        int at = first.readerIndex() + 5;
        int messageLength = first.getUnsignedMedium(at + 1);
        if (first.getByte(at) != 1 || 4 + messageLength > recordLength) {
            passOn(ctx); // not a ClientHello, or one spread over several records: the TLS handler decides
            return;
        }
        HandshakeResult refusal = check(first.slice(at + 4, messageLength), protocols);
        if (refusal == null) {
            passOn(ctx);
            return;
        }
        release();
        metrics.handshake(listener, refusal, TlsVersionTag.NONE);
        byte alert = refusal == HandshakeResult.NO_APPLICATION_PROTOCOL ? ALERT_NO_APPLICATION_PROTOCOL
                : ALERT_HANDSHAKE_FAILURE;
        // A plaintext fatal alert record: what a TLS stack sends when it refuses a ClientHello.
        ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {21, 3, 3, 0, 2, 2, alert}))
                .addListener(ChannelFutureListener.CLOSE);
    }

    /** Hands what was read to the TLS handler and steps out of the pipeline. */
    private void passOn(ChannelHandlerContext ctx) {
        ByteBuf b = first;
        first = null;
        ctx.pipeline().remove(this);
        ctx.fireChannelRead(b);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        // Still here: the first record is not complete yet (reads are explicit on these listeners).
        if (ctx.channel().isActive()) {
            ctx.read();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        release();
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        release();
    }

    private void release() {
        if (first != null) {
            first.release();
            first = null;
        }
    }

    /**
     * Why this ClientHello (the handshake message body, from {@code client_version}) is refused, or null when it is
     * not (also when it cannot be parsed: the TLS handler decides then).
     */
    static HandshakeResult check(ByteBuf hello, Set<String> protocols) {
        int i = hello.readerIndex();
        int end = hello.writerIndex();
        try {
            int legacyVersion = hello.getUnsignedShort(i);
            i += 2 + 32;
            i += 1 + hello.getUnsignedByte(i);
            i += 2 + hello.getUnsignedShort(i);
            i += 1 + hello.getUnsignedByte(i);
            boolean tls13 = false;
            boolean sigAlgsSeen = false;
            boolean strongSigAlg = false;
            if (i + 2 <= end) {
                int extEnd = Math.min(end, i + 2 + hello.getUnsignedShort(i));
                i += 2;
                while (i + 4 <= extEnd) {
                    int type = hello.getUnsignedShort(i);
                    int len = hello.getUnsignedShort(i + 2);
                    int data = i + 4;
                    if (data + len > extEnd) {
                        return null;
                    }
                    if (type == EXT_ALPN && protocols != null && !offersOneOf(hello, data, len, protocols)) {
                        return HandshakeResult.NO_APPLICATION_PROTOCOL;
                    }
                    if (type == EXT_SIGNATURE_ALGORITHMS) {
                        sigAlgsSeen = true;
                        strongSigAlg = hasStrongSignatureScheme(hello, data, len);
                    }
                    if (type == EXT_SUPPORTED_VERSIONS) {
                        tls13 = offersTls13(hello, data, len);
                    }
                    i = data + len;
                }
            }
            // Below TLS 1.2 there are no signature_algorithms: the TLS handler refuses the version itself.
            if (!tls13 && legacyVersion == 0x0303 && (!sigAlgsSeen || !strongSigAlg)) {
                return HandshakeResult.WEAK_SIGNATURE_ALGORITHMS;
            }
            if (tls13 && sigAlgsSeen && !strongSigAlg) {
                return HandshakeResult.WEAK_SIGNATURE_ALGORITHMS;
            }
            return null;
        } catch (IndexOutOfBoundsException e) {
            return null;
        }
    }

    private static boolean offersOneOf(ByteBuf b, int at, int len, Set<String> protocols) {
        int end = at + len;
        int i = at + 2;
        while (i < end) {
            int n = b.getUnsignedByte(i);
            if (i + 1 + n > end) {
                return true;
            }
            if (protocols.contains(b.toString(i + 1, n, StandardCharsets.US_ASCII))) {
                return true;
            }
            i += 1 + n;
        }
        return false;
    }

    /**
     * Whether the list names a scheme with SHA-256 or stronger: anything but the SHA-1 schemes ({@code 0x0201},
     * {@code 0x0203}, and the DSA {@code 0x0202}) and the MD5, SHA-224 and anonymous legacy pairs ({@code 0x01xx},
     * {@code 0x03xx} with a signature byte of 0, SHA-224 {@code 0x03xx}).
     */
    private static boolean hasStrongSignatureScheme(ByteBuf b, int at, int len) {
        int end = at + len;
        for (int i = at + 2; i + 1 < end; i += 2) {
            int scheme = b.getUnsignedShort(i);
            int hash = scheme >> 8;
            int sig = scheme & 0xff;
            boolean legacy = hash <= 6 && sig <= 3;
            if (!legacy || hash >= 4 && sig != 0) {
                return true;
            }
        }
        return false;
    }

    private static boolean offersTls13(ByteBuf b, int at, int len) {
        int n = b.getUnsignedByte(at);
        for (int i = at + 1; i + 1 < at + 1 + n && i + 1 < at + len; i += 2) {
            if (b.getUnsignedShort(i) == 0x0304) {
                return true;
            }
        }
        return false;
    }
}
