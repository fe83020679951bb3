package dev.tollgate.proxy.inspect;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Set;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;

import dev.tollgate.api.SpiffeId;
import dev.tollgate.proxy.forward.ResponseInterceptor;
import dev.tollgate.proxy.metrics.Direction;

/**
 * The response side of an allowed MCP request: remembers which identity a new {@code Mcp-Session-Id} belongs to (only
 * on the answer to a request without one), and filters every JSON-RPC response carrying a {@code result.tools} array
 * down to the allowed tools, whatever its id (a server may echo an id differently, a resumed GET stream replays
 * results) in a {@code text/event-stream}, which is cut into events (each bounded), each forwarded as soon as it is
 * complete, scanned by a streaming parser and rewritten when a tool was removed. An {@code application/json} answer
 * is read only when the request was a {@code tools/list} (a JSON answer carries the answers to its request's messages
 * only): held (bounded, its pooled chunks uncopied) and scanned as it arrives, rewritten only when a tool was removed;
 * any other JSON answer streams through unread. While the request was a {@code tools/list}, an answer that cannot be
 * read (an encoded body, broken JSON, an unreadable event, another content type) is not relayed: 502, or the stream
 * is cut, counted as {@link InspectionReason#UNFILTERABLE_RESPONSE}. An event over the bound cuts any stream.
 */
final class McpResponseInterceptor implements ResponseInterceptor {
    private enum Mode { PASS, INFORMATIONAL, JSON, SSE, DROP }

    private final ToolCallInspection in;
    private final Direction direction;
    private final String upstream;
    private final SpiffeId who;
    /** The request carried no session id: a session id in the answer is a new session, owned by {@link #who}. */
    private final boolean createsSession;
    /** The request asked for tools/list: its answer must be readable. */
    private final boolean toolsList;
    private final Set<String> allowed;
    private Mode mode = Mode.PASS;
    private boolean headSeen;
    private HttpResponse head;
    private CompositeByteBuf buffer;
    private ByteBuf event;
    /** Reads the JSON answer to a tools/list as it arrives. */
    private ToolsResultScanner scanner;
    private int scanOffset;
    private boolean atLineStart = true;

    McpResponseInterceptor(ToolCallInspection in, Direction direction, String upstream, SpiffeId who,
                           boolean createsSession, boolean toolsList, Set<String> allowed) {
        this.createsSession = createsSession;
        this.in = in;
        this.direction = direction;
        this.upstream = upstream;
        this.who = who;
        this.toolsList = toolsList;
        this.allowed = allowed;
    }

    /** The key two JSON-RPC ids compare equal by. */
    static String idKey(JsonNode id) {
        if (id == null || id.isNull()) {
            return "null";
        }
        if (id.isTextual()) {
            return "s:" + id.asText();
        }
        if (id.isIntegralNumber()) {
            return "n:" + id.bigIntegerValue();
        }
        return "x:" + id;
    }

    @Override
    public void onResponse(HttpObject msg, Sink next) {
        if (msg instanceof HttpResponse resp && !headSeen) {
            if (resp.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
                mode = Mode.INFORMATIONAL;
                next.accept(msg);
                return;
            }
            headSeen = true;
            String sid = resp.headers().get(InspectionGate.SESSION_HEADER);
            if (sid != null && createsSession) {
                in.sessionCreated(direction, upstream, sid, who);
            }
            startBody(resp, next);
            if (msg instanceof io.netty.handler.codec.http.FullHttpMessage full) {
                body(new DefaultLastHttpContent(full.content(), full.trailingHeaders()), next);
            }
            return;
        }
        if (mode == Mode.INFORMATIONAL) {
            next.accept(msg);
            if (msg instanceof LastHttpContent) {
                mode = Mode.PASS;
            }
            return;
        }
        if (msg instanceof HttpContent c) {
            body(c, next);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    private void startBody(HttpResponse resp, Sink next) {
        String encoding = resp.headers().get(HttpHeaderNames.CONTENT_ENCODING);
        String type = resp.headers().get(HttpHeaderNames.CONTENT_TYPE);
        // trimmed, as clients read it ("text/event-stream ;charset=utf-8")
        CharSequence mime = type == null ? null : HttpUtil.getMimeType(type);
        mime = mime == null ? null : mime.toString().strip();
        boolean identity = encoding == null || HttpHeaderValues.IDENTITY.contentEqualsIgnoreCase(encoding);
        if (mime != null && HttpHeaderValues.APPLICATION_JSON.contentEqualsIgnoreCase(mime)) {
            if (!toolsList) {
                // The answer to another request carries no tools/list result: it streams through unread.
                mode = Mode.PASS;
                next.accept(headOnly(resp));
                return;
            }
            if (!identity) {
                unreadable(resp, next);
                return;
            }
            try {
                scanner = new ToolsResultScanner(in.json().getFactory(), allowed);
            } catch (IOException e) {
                unfilterable(resp, next);
                return;
            }
            mode = Mode.JSON;
            head = headOnly(resp);
        } else if (mime != null && HttpHeaderValues.TEXT_EVENT_STREAM.contentEqualsIgnoreCase(mime)) {
            if (!identity) {
                unreadable(resp, next);
                return;
            }
            mode = Mode.SSE;
            HttpResponse h = headOnly(resp);
            // Events may change length: the stream is framed anew.
            h.headers().remove(HttpHeaderNames.CONTENT_LENGTH);
            next.accept(h);
        } else if (toolsList && !emptyBody(resp)) {
            unfilterable(resp, next);
        } else {
            mode = Mode.PASS;
            next.accept(headOnly(resp));
        }
    }

    /** An answer declared empty (an error status without a body, say): nothing to filter. */
    private static boolean emptyBody(HttpResponse resp) {
        int code = resp.status().code();
        return code == 204 || code == 304 || HttpUtil.getContentLength(resp, -1L) == 0;
    }

    /** A body that cannot be read: refused while the request was a tools/list, else relayed as it is. */
    private void unreadable(HttpResponse resp, Sink next) {
        if (toolsList) {
            unfilterable(resp, next);
        } else {
            mode = Mode.PASS;
            next.accept(headOnly(resp));
        }
    }

    /** The head without any content a full response carried (the content follows as its own part). */
    private static HttpResponse headOnly(HttpResponse resp) {
        if (!(resp instanceof HttpContent)) {
            return resp;
        }
        return new io.netty.handler.codec.http.DefaultHttpResponse(resp.protocolVersion(), resp.status(),
                resp.headers());
    }

    private void unfilterable(HttpResponse resp, Sink next) {
        mode = Mode.DROP;
        in.metrics.inspection(direction, InspectionReason.UNFILTERABLE_RESPONSE);
        String body = "{\"error\":\"upstream_unavailable\",\"reason\":\"unfilterable_response\"}\n";
        FullHttpResponse r = new DefaultFullHttpResponse(resp.protocolVersion(), HttpResponseStatus.BAD_GATEWAY,
                Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, r.content().readableBytes());
        next.accept(r);
    }

    private void body(HttpContent c, Sink next) {
        switch (mode) {
            case PASS -> next.accept(c);
            case DROP -> c.release();
            case JSON -> json(c, next);
            case SSE -> sse(c, next);
            default -> c.release();
        }
    }

    /**
     * The answer to a tools/list: held (its pooled chunks, uncopied) until complete, and scanned as it arrives; relayed
     * as it came unless a tool must be removed, and only then read as a tree and rewritten.
     */
    private void json(HttpContent c, Sink next) {
        boolean last = c instanceof LastHttpContent;
        int held = buffer == null ? 0 : buffer.readableBytes();
        if (held + (long) c.content().readableBytes() > in.settings.maxBody()) {
            c.release();
            releaseBuffers();
            HttpResponse h = head;
            head = null;
            unfilterable(h, next);
            return;
        }
        ByteBuf data = c.content();
        if (data.isReadable()) {
            if (buffer == null) {
                buffer = data.alloc().compositeBuffer(64);
            }
            for (ByteBuffer nio : data.nioBuffers()) {
                scanner.feed(nio);
            }
            buffer.addComponent(true, data.retain());
        }
        c.release();
        if (!last) {
            return;
        }
        scanner.end();
        HttpResponse h = head;
        head = null;
        ByteBuf out;
        if (scanner.removes()) {
            JsonNode tree = in.readJson(ByteBufUtil.getBytes(buffer));
            if (tree == null) {
                releaseBuffers();
                unfilterable(h, next);
                return;
            }
            if (filter(tree) > 0) {
                releaseBuffers();
                out = Unpooled.wrappedBuffer(write(tree));
            } else {
                out = buffer;
                buffer = null;
            }
        } else if (scanner.failed()) {
            releaseBuffers();
            unfilterable(h, next);
            return;
        } else {
            in.metrics.toolsFiltered(direction, 0);
            out = buffer;
            buffer = null;
        }
        mode = Mode.PASS;
        FullHttpResponse full = new DefaultFullHttpResponse(h.protocolVersion(), h.status(), out, h.headers(),
                io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE);
        full.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
        full.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, out.readableBytes());
        next.accept(full);
    }

    private void sse(HttpContent c, Sink next) {
        boolean last = c instanceof LastHttpContent;
        ByteBuf data = c.content();
        if (event == null) {
            // From the pool of the connection's allocator, as is each event cut from it and relayed.
            event = data.alloc().buffer(Math.max(1024, data.readableBytes()));
        }
        event.writeBytes(data);
        c.release();
        int end;
        while ((end = eventEnd()) >= 0) {
            ByteBuf one = event.readBytes(end - event.readerIndex());
            event.discardReadBytes();
            ByteBuf rewritten = rewriteEvent(one);
            if (rewritten == null) {
                one.release();
                releaseBuffers();
                mode = Mode.DROP;
                in.metrics.inspection(direction, InspectionReason.UNFILTERABLE_RESPONSE);
                next.fail("an unreadable server-sent event in the answer to tools/list");
                return;
            }
            next.accept(new DefaultHttpContent(rewritten));
        }
        if (event.readableBytes() > in.settings.maxSseEvent()) {
            releaseBuffers();
            mode = Mode.DROP;
            in.metrics.inspection(direction, InspectionReason.UNFILTERABLE_RESPONSE);
            next.fail("a server-sent event over " + in.settings.maxSseEvent() + " bytes");
            return;
        }
        if (last) {
            // An event the stream ends in the middle of is not dispatched (HTML, server-sent events): dropped.
            releaseBuffers();
            next.accept(new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER, ((LastHttpContent) c).trailingHeaders()));
        }
    }

    /** The index just after the blank line ending the first complete event in {@link #event}; -1 when none. */
    private int eventEnd() {
        int r = event.readerIndex();
        int w = event.writerIndex();
        int i = r + scanOffset;
        while (i < w) {
            byte b = event.getByte(i);
            if (b == '\n' || b == '\r') {
                int next = i + 1;
                if (b == '\r') {
                    if (next >= w) {
                        break; // a LF may follow
                    }
                    if (event.getByte(next) == '\n') {
                        next++;
                    }
                }
                if (atLineStart) {
                    scanOffset = 0;
                    return next;
                }
                atLineStart = true;
                i = next;
            } else {
                atLineStart = false;
                i++;
            }
        }
        scanOffset = i - r;
        return -1;
    }

    /**
     * The event, with its data rewritten when it carries a tools result with tools to remove; null when its data is
     * not JSON while the request was a tools/list (the caller releases the event then).
     */
    private ByteBuf rewriteEvent(ByteBuf one) {
        String text = one.toString(StandardCharsets.UTF_8);
        if (text.startsWith("\uFEFF")) {
            // a byte order mark opening the stream: event stream parsers skip it, so the line after it counts
            text = text.substring(1);
        }
        StringBuilder data = new StringBuilder();
        StringBuilder others = new StringBuilder();
        boolean hasData = false;
        for (String line : text.split("\r\n|\r|\n", -1)) {
            if (line.startsWith("data:") || line.equals("data")) {
                // "data" alone is the field with an empty value (the event stream format's rule for a line without
                // a colon)
                String v = line.length() > 5 ? line.substring(5) : "";
                if (v.startsWith(" ")) {
                    v = v.substring(1);
                }
                if (hasData) {
                    data.append('\n');
                }
                hasData = true;
                data.append(v);
            } else if (!line.isEmpty()) {
                others.append(line).append('\n');
            }
        }
        if (!hasData || data.isEmpty()) {
            return one;
        }
        byte[] json = data.toString().getBytes(StandardCharsets.UTF_8);
        try (ToolsResultScanner scan = new ToolsResultScanner(in.json().getFactory(), allowed)) {
            scan.feed(ByteBuffer.wrap(json));
            scan.end();
            if (!scan.removes()) {
                if (scan.failed()) {
                    return toolsList ? null : one;
                }
                in.metrics.toolsFiltered(direction, 0);
                return one;
            }
        } catch (IOException e) {
            return toolsList ? null : one;
        }
        // Only an event with a tool to remove is read as a tree.
        JsonNode tree = in.readJson(json);
        if (tree == null) {
            return toolsList ? null : one;
        }
        int removed = filter(tree);
        if (removed == 0) {
            return one;
        }
        one.release();
        return Unpooled.copiedBuffer(others + "data: " + new String(write(tree), StandardCharsets.UTF_8) + "\n\n",
                StandardCharsets.UTF_8);
    }

    /** Removes tools not allowed from each tools result in the message (or batch), whatever its id; how many. */
    private int filter(JsonNode tree) {
        int removed = 0;
        if (tree.isArray()) {
            for (JsonNode m : tree) {
                removed += filterOne(m);
            }
        } else {
            removed = filterOne(tree);
        }
        in.metrics.toolsFiltered(direction, removed);
        return removed;
    }

    private int filterOne(JsonNode m) {
        if (!m.isObject()) {
            return 0;
        }
        JsonNode tools = m.path("result").path("tools");
        if (!tools.isArray()) {
            return 0;
        }
        int removed = 0;
        for (Iterator<JsonNode> it = ((ArrayNode) tools).elements(); it.hasNext(); ) {
            JsonNode t = it.next();
            JsonNode name = t.path("name");
            if (!name.isTextual() || !allowed.contains(name.asText())) {
                it.remove();
                removed++;
            }
        }
        return removed;
    }

    private byte[] write(JsonNode tree) {
        try {
            return in.json().writeValueAsBytes(tree);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private void releaseBuffers() {
        if (scanner != null) {
            scanner.close();
            scanner = null;
        }
        if (buffer != null) {
            buffer.release();
            buffer = null;
        }
        if (event != null) {
            event.release();
            event = null;
        }
    }

    @Override
    public void release() {
        releaseBuffers();
        head = null;
    }

}
