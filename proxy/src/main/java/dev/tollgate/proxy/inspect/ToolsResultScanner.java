package dev.tollgate.proxy.inspect;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Set;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.async.ByteBufferFeeder;

/**
 * Reads a JSON-RPC message (or batch) as it arrives, chunk by chunk, without building a tree or copying it: only to
 * learn whether it is well-formed JSON and whether a {@code result.tools} array of one of its messages holds a tool
 * the filter would remove (an element that is not an object with a {@code name} string among the allowed tools). The
 * same rules as {@link McpResponseInterceptor}'s tree filter, so that the tree is built only for the rare answer that
 * must be rewritten. The parser is Jackson's non-blocking one, from the inspection's bounded factory (duplicate keys,
 * depth, sizes refused as there). Not thread-safe; one per response body or event.
 */
final class ToolsResultScanner implements AutoCloseable {
    private final JsonParser parser;
    private final ByteBufferFeeder feeder;
    private final Set<String> allowed;
    private boolean failed;
    private boolean removes;
    private boolean rootSeen;
    private boolean rootDone;
    private boolean toolNamed;

    ToolsResultScanner(JsonFactory factory, Set<String> allowed) throws IOException {
        this.parser = factory.createNonBlockingByteBufferParser();
        this.feeder = (ByteBufferFeeder) parser.getNonBlockingInputFeeder();
        this.allowed = allowed;
    }

    /** Reads the next part of the input; {@code bytes} is consumed before this returns. */
    void feed(ByteBuffer bytes) {
        if (failed || removes || !bytes.hasRemaining()) {
            return;
        }
        try {
            feeder.feedInput(bytes);
            drain();
        } catch (IOException | RuntimeException e) {
            failed = true;
        }
    }

    /** The input is complete. */
    void end() {
        if (failed || removes) {
            return;
        }
        try {
            feeder.endOfInput();
            drain();
        } catch (IOException | RuntimeException e) {
            failed = true;
        }
        if (!rootDone) {
            failed = true;
        }
    }

    /** The input is not one well-formed JSON value (meaningful after {@link #end()}, unless {@link #removes()}). */
    boolean failed() {
        return failed;
    }

    /** A tools result in the input holds a tool to remove: the message must be read whole and rewritten. */
    boolean removes() {
        return removes;
    }

    private void drain() throws IOException {
        JsonToken t;
        while ((t = parser.nextToken()) != null && t != JsonToken.NOT_AVAILABLE) {
            if (rootDone) {
                // a second value after the first: not one JSON document
                failed = true;
                return;
            }
            JsonStreamContext ctx = parser.getParsingContext();
            switch (t) {
                case START_OBJECT -> {
                    rootSeen = true;
                    if (isToolsArray(ctx.getParent())) {
                        toolNamed = false;
                    }
                }
                case START_ARRAY -> {
                    rootSeen = true;
                    if (isToolsArray(ctx.getParent())) {
                        removes = true; // an element that is not an object has no name
                    }
                }
                case END_OBJECT -> {
                    if (isToolsArray(ctx) && !toolNamed) {
                        removes = true;
                    }
                }
                case FIELD_NAME, END_ARRAY -> {
                    // structure only
                }
                default -> {
                    rootSeen = true;
                    if (isToolsArray(ctx)) {
                        removes = true; // a scalar element
                    } else if (t == JsonToken.VALUE_STRING && ctx.inObject() && "name".equals(ctx.getCurrentName())
                            && isToolsArray(ctx.getParent())) {
                        toolNamed = allowed.contains(parser.getText());
                    }
                }
            }
            if (removes) {
                return;
            }
            if (rootSeen && parser.getParsingContext().inRoot()) {
                rootDone = true;
            }
        }
    }

    /** Whether {@code c} is the {@code tools} array of the {@code result} object of a message (or batch element). */
    private static boolean isToolsArray(JsonStreamContext c) {
        if (c == null || !c.inArray()) {
            return false;
        }
        JsonStreamContext result = c.getParent();
        if (result == null || !result.inObject() || !"tools".equals(result.getCurrentName())) {
            return false;
        }
        JsonStreamContext message = result.getParent();
        if (message == null || !message.inObject() || !"result".equals(message.getCurrentName())) {
            return false;
        }
        JsonStreamContext outer = message.getParent();
        return outer != null && (outer.inRoot() || (outer.inArray() && outer.getParent() != null
                && outer.getParent().inRoot()));
    }

    @Override
    public void close() {
        try {
            parser.close();
        } catch (IOException ignored) {
            // nothing held outside the heap
        }
    }
}
