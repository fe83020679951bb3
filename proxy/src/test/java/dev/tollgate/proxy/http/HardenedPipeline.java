package dev.tollgate.proxy.http;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;

/** An EmbeddedChannel with the codec, the hardening handlers and a handler that records what reaches it. */
final class HardenedPipeline {
    static final String CODEC = "codec";

    final List<RejectReason> rejections = new CopyOnWriteArrayList<>();
    /** What passed the hardening handlers, one line per message: "REQ GET /x {headers}", "CONTENT body", "LAST body". */
    final List<String> passed = new ArrayList<>();
    final EmbeddedChannel channel;

    HardenedPipeline(HttpLimits limits) {
        channel = new EmbeddedChannel();
        channel.freezeTime();
        channel.pipeline().addLast(CODEC, new HttpServerCodec(HttpDecoding.decoderConfig(limits)));
        Http1Hardening.addHttp1(channel.pipeline(), CODEC, limits, rejections::add);
        channel.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                try {
                    passed.add(describe(msg));
                } finally {
                    ReferenceCountUtil.release(msg);
                }
            }
        });
    }

    HardenedPipeline() {
        this(HttpLimits.defaults());
    }

    static String describe(Object msg) {
        StringBuilder sb = new StringBuilder();
        if (msg instanceof HttpRequest) {
            HttpRequest r = (HttpRequest) msg;
            sb.append("REQ ").append(r.method()).append(' ').append(r.uri()).append(' ').append(r.protocolVersion())
                    .append(' ').append(r.headers().entries());
        }
        if (msg instanceof HttpContent) {
            if (sb.length() > 0) {
                sb.append(" | ");
            }
            sb.append(msg instanceof LastHttpContent ? "LAST " : "CONTENT ")
                    .append(((HttpContent) msg).content().toString(StandardCharsets.ISO_8859_1));
        }
        return sb.length() == 0 ? msg.getClass().getSimpleName() : sb.toString();
    }

    void write(String raw) {
        channel.writeInbound(bytes(raw));
    }

    static ByteBuf bytes(String raw) {
        return Unpooled.copiedBuffer(raw, StandardCharsets.ISO_8859_1);
    }

    /** Everything written to the client so far, as text. */
    String response() {
        StringBuilder sb = new StringBuilder();
        Object o;
        while ((o = channel.readOutbound()) != null) {
            try {
                if (o instanceof ByteBuf) {
                    sb.append(((ByteBuf) o).toString(StandardCharsets.ISO_8859_1));
                }
            } finally {
                ReferenceCountUtil.release(o);
            }
        }
        return sb.toString();
    }

    void close() {
        channel.finishAndReleaseAll();
    }
}
