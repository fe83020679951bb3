package dev.tollgate.proxy.http;

import java.util.Arrays;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * A strict HTTP/1.1 request framing check on the raw bytes, placed immediately <em>before</em> the
 * {@code HttpServerCodec}. It exists because the codec normalises some ambiguous input before any handler after it
 * can see it (obs-fold is joined, leading empty lines are skipped, chunk extensions are dropped, request-line
 * whitespace is collapsed): those cases can only be refused on the bytes.
 *
 * <p>It follows the framing of every request (request line, headers, then a Content-Length body or a chunked body)
 * and passes the buffers on unchanged. It accepts only one shape: a single {@code SP} between request-line parts,
 * version HTTP/1.0 or HTTP/1.1, CRLF line ends, token header names directly followed by a colon, no obs-fold,
 * exactly one Host on HTTP/1.1, at most one Content-Length of plain digits, at most one Transfer-Encoding whose
 * value is exactly {@code chunked} (not with Content-Length, not on HTTP/1.0), chunk sizes of hex digits only (no
 * extensions), CRLF after chunk data and no trailer fields. The decoder frames every such request the same way, so
 * the two parsers cannot disagree about where a request ends.
 *
 * <p>On the first violation it passes on only the bytes of the earlier, complete requests in the same buffer,
 * fires a {@link RequestRejectedEvent} instead of the rest and then discards (releases) all further input. If the
 * offending request's head was passed on in an earlier read (a chunked body error after the head), the decoder has
 * already produced that head but will never produce its {@code LastHttpContent}. It also fires
 * {@link RequestHeadEvent}s for {@link HeaderReadTimeoutHandler}.
 *
 * <p>HTTP/1 only: remove it together with the codec if a connection switches protocols. One instance per channel.
 */
public final class Http1FramingGuard extends ChannelInboundHandlerAdapter {
    private static final byte CR = '\r';
    private static final byte LF = '\n';
    private static final byte SP = ' ';
    private static final byte HTAB = '\t';
    private static final int MAX_CHUNK_SIZE_DIGITS = 16;
    private static final int MAX_CONTENT_LENGTH_DIGITS = 18;
    private static final int INITIAL_LINE_BUFFER = 256;
    private static final boolean[] TCHAR = new boolean[128];

    static {
        for (char c = '0'; c <= '9'; c++) {
            TCHAR[c] = true;
        }
        for (char c = 'a'; c <= 'z'; c++) {
            TCHAR[c] = true;
            TCHAR[c - 32] = true;
        }
        for (char c : "!#$%&'*+-.^_`|~".toCharArray()) {
            TCHAR[c] = true;
        }
    }

    private enum State {
        REQUEST_START, REQUEST_LINE, REQUEST_LINE_LF, HEADER_START, HEADER_LINE, HEADER_LINE_LF, HEAD_END_LF,
        FIXED_BODY, CHUNK_SIZE, CHUNK_SIZE_LF, CHUNK_DATA, CHUNK_DATA_CR, CHUNK_DATA_LF, TRAILER_START,
        TRAILER_END_LF, REJECTED
    }

    private final HttpLimits limits;
    /** Whether lines are copied and checked a run at a time (always, but for the test that compares both ways). */
    private final boolean lineRuns;
    private State state = State.REQUEST_START;
    private byte[] line = new byte[INITIAL_LINE_BUFFER];
    private int lineLength;
    private int headerBytes;
    private int headerCount;
    private int hostCount;
    private int contentLengthCount;
    private int transferEncodingCount;
    private boolean http10;
    private long remaining;
    private int chunkSizeDigits;

    public Http1FramingGuard(HttpLimits limits) {
        this(limits, true);
    }

    /** With {@code lineRuns} false, every byte goes through {@link #step}: the reference the tests compare with. */
    Http1FramingGuard(HttpLimits limits, boolean lineRuns) {
        this.limits = limits;
        this.lineRuns = lineRuns;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf)) {
            ctx.fireChannelRead(msg);
            return;
        }
        ByteBuf in = (ByteBuf) msg;
        if (state == State.REJECTED) {
            in.release();
            return;
        }
        boolean inHeadBefore = inHead();
        boolean headCompleted = false;
        int start = in.readerIndex();
        int end = in.writerIndex();
        int requestStart = -1;
        RejectReason reason = null;
        int i = start;
        while (i < end && reason == null) {
            switch (state) {
                case FIXED_BODY:
                case CHUNK_DATA: {
                    int n = (int) Math.min(remaining, end - i);
                    i += n;
                    remaining -= n;
                    if (remaining == 0) {
                        state = state == State.FIXED_BODY ? State.REQUEST_START : State.CHUNK_DATA_CR;
                    }
                    continue;
                }
                case REQUEST_START:
                    requestStart = i;
                    break;
                case REQUEST_LINE:
                case HEADER_LINE: {
                    if (!lineRuns) {
                        break;
                    }
                    // The bytes of a line up to its CR are copied and checked in one pass; the CR, anything past the
                    // line's limit and every other state go byte by byte through step().
                    int n = lineRun(in, i, end);
                    if (n > 0) {
                        reason = checkRun(n);
                        if (reason == null) {
                            i += n;
                        }
                        continue;
                    }
                    break;
                }
                default:
                    break;
            }
            byte b = in.getByte(i++);
            State before = state;
            reason = step(b);
            if (reason == null && isHeadEnd(before)) {
                headCompleted = true;
            }
        }

        if (reason == null) {
            ctx.fireChannelRead(in);
            fireHeadEvents(ctx, inHeadBefore, headCompleted);
            return;
        }
        state = State.REJECTED;
        line = null;
        try {
            // Bytes of earlier complete requests in this buffer still go to the decoder; the refused request's don't.
            if (requestStart > start) {
                ctx.fireChannelRead(in.retainedSlice(start, requestStart - start));
            }
        } finally {
            in.release();
        }
        ctx.fireUserEventTriggered(new RequestRejectedEvent(reason));
    }

    private boolean isHeadEnd(State before) {
        return before == State.HEAD_END_LF && state != State.HEAD_END_LF;
    }

    private boolean inHead() {
        switch (state) {
            case REQUEST_LINE:
            case REQUEST_LINE_LF:
            case HEADER_START:
            case HEADER_LINE:
            case HEADER_LINE_LF:
            case HEAD_END_LF:
                return true;
            default:
                return false;
        }
    }

    private void fireHeadEvents(ChannelHandlerContext ctx, boolean inHeadBefore, boolean headCompleted) {
        boolean inHeadAfter = inHead();
        if (headCompleted) {
            ctx.fireUserEventTriggered(RequestHeadEvent.COMPLETED);
        }
        if (inHeadAfter && (!inHeadBefore || headCompleted)) {
            ctx.fireUserEventTriggered(RequestHeadEvent.STARTED);
        }
    }

    /** Consumes one byte of head or chunk framing; returns the reason to refuse, or null. */
    private RejectReason step(byte b) {
        switch (state) {
            case REQUEST_START:
                if (b < 0) {
                    return RejectReason.INVALID_REQUEST_LINE;
                }
                if (b <= SP || b == 0x7F) {
                    return RejectReason.LEADING_CONTROL_BYTES;
                }
                resetRequest();
                state = State.REQUEST_LINE;
                return append(b, limits.maxInitialLineLength(), RejectReason.REQUEST_LINE_TOO_LONG);
            case REQUEST_LINE:
                if (b == CR) {
                    state = State.REQUEST_LINE_LF;
                    return null;
                }
                if (b == LF) {
                    return RejectReason.BARE_LF;
                }
                if (b < SP || b >= 0x7F) {
                    return RejectReason.INVALID_REQUEST_LINE;
                }
                return append(b, limits.maxInitialLineLength(), RejectReason.REQUEST_LINE_TOO_LONG);
            case REQUEST_LINE_LF:
                if (b != LF) {
                    return RejectReason.BARE_CR;
                }
                state = State.HEADER_START;
                return requestLine();
            case HEADER_START:
                if (b == CR) {
                    state = State.HEAD_END_LF;
                    return null;
                }
                if (b == LF) {
                    return RejectReason.BARE_LF;
                }
                if (b == SP || b == HTAB) {
                    return RejectReason.OBS_FOLD;
                }
                lineLength = 0;
                state = State.HEADER_LINE;
                return headerByte(b);
            case HEADER_LINE:
                return headerByte(b);
            case HEADER_LINE_LF:
                if (b != LF) {
                    return RejectReason.BARE_CR;
                }
                state = State.HEADER_START;
                return headerLine();
            case HEAD_END_LF:
                if (b != LF) {
                    return RejectReason.BARE_CR;
                }
                return endOfHead();
            case CHUNK_SIZE:
                return chunkSizeByte(b);
            case CHUNK_SIZE_LF:
                if (b != LF) {
                    return RejectReason.BARE_CR;
                }
                if (chunkSizeDigits == 0) {
                    return RejectReason.INVALID_CHUNK_SIZE;
                }
                state = remaining == 0 ? State.TRAILER_START : State.CHUNK_DATA;
                return null;
            case CHUNK_DATA_CR:
                if (b != CR) {
                    return RejectReason.INVALID_CHUNK_FRAMING;
                }
                state = State.CHUNK_DATA_LF;
                return null;
            case CHUNK_DATA_LF:
                if (b != LF) {
                    return RejectReason.INVALID_CHUNK_FRAMING;
                }
                state = State.CHUNK_SIZE;
                remaining = 0;
                chunkSizeDigits = 0;
                return null;
            case TRAILER_START:
                if (b == CR) {
                    state = State.TRAILER_END_LF;
                    return null;
                }
                return b == LF ? RejectReason.BARE_LF : RejectReason.TRAILERS_NOT_ALLOWED;
            case TRAILER_END_LF:
                if (b != LF) {
                    return RejectReason.BARE_CR;
                }
                state = State.REQUEST_START;
                return null;
            default:
                throw new IllegalStateException("no byte step in state " + state);
        }
    }

    /**
     * Copies the bytes of the current request-line or header line from {@code in[from, end)} up to (not including)
     * its CR, and no more than the line's limit leaves room for, to {@code line} after {@code lineLength}; returns
     * how many ({@code lineLength} is not advanced: {@link #checkRun} does that for bytes it accepts).
     */
    private int lineRun(ByteBuf in, int from, int end) {
        boolean requestLine = state == State.REQUEST_LINE;
        int max = requestLine ? limits.maxInitialLineLength() : limits.maxHeaderSize();
        int room = max - (requestLine ? lineLength : headerBytes);
        int to = (int) Math.min(end, (long) from + Math.max(room, 0));
        if (to <= from) {
            return 0;
        }
        int cr = in.indexOf(from, to, CR);
        int n = (cr < 0 ? to : cr) - from;
        if (n > 0) {
            if (lineLength + n > line.length) {
                line = Arrays.copyOf(line, Math.min(max, Math.max(line.length * 2, lineLength + n)));
            }
            in.getBytes(from, line, lineLength, n);
        }
        return n;
    }

    /**
     * Checks the {@code n} bytes {@link #lineRun} copied, in order, as {@link #step} would one by one (none of them is
     * a CR and all fit the line's limit): the first refused byte's reason, or null and the bytes are the line's.
     */
    private RejectReason checkRun(int n) {
        int endOfRun = lineLength + n;
        if (state == State.REQUEST_LINE) {
            for (int k = lineLength; k < endOfRun; k++) {
                byte b = line[k];
                if (b < SP || b >= 0x7F) {
                    return b == LF ? RejectReason.BARE_LF : RejectReason.INVALID_REQUEST_LINE;
                }
            }
        } else {
            for (int k = lineLength; k < endOfRun; k++) {
                byte b = line[k];
                if ((b < SP && b != HTAB) || b == 0x7F) {
                    return b == LF ? RejectReason.BARE_LF : RejectReason.INVALID_HEADER;
                }
            }
            headerBytes += n;
        }
        lineLength = endOfRun;
        return null;
    }

    private void resetRequest() {
        lineLength = 0;
        headerBytes = 0;
        headerCount = 0;
        hostCount = 0;
        contentLengthCount = 0;
        transferEncodingCount = 0;
        http10 = false;
        remaining = 0;
        chunkSizeDigits = 0;
    }

    private RejectReason append(byte b, int max, RejectReason tooLong) {
        if (lineLength >= max) {
            return tooLong;
        }
        if (lineLength == line.length) {
            line = Arrays.copyOf(line, Math.min(max, line.length * 2));
        }
        line[lineLength++] = b;
        return null;
    }

    private RejectReason headerByte(byte b) {
        if (b == CR) {
            state = State.HEADER_LINE_LF;
            return null;
        }
        if (b == LF) {
            return RejectReason.BARE_LF;
        }
        if ((b < SP && b != HTAB) || b == 0x7F) {
            return RejectReason.INVALID_HEADER;
        }
        if (++headerBytes > limits.maxHeaderSize()) {
            return RejectReason.HEADERS_TOO_LARGE;
        }
        return append(b, limits.maxHeaderSize(), RejectReason.HEADERS_TOO_LARGE);
    }

    /** Checks {@code token SP target SP HTTP/1.x} with exactly one space between the parts. */
    private RejectReason requestLine() {
        int sp1 = indexOf(SP, 0);
        if (sp1 <= 0) {
            return RejectReason.INVALID_REQUEST_LINE;
        }
        for (int i = 0; i < sp1; i++) {
            if (!isTchar(line[i])) {
                return RejectReason.INVALID_REQUEST_LINE;
            }
        }
        int sp2 = indexOf(SP, sp1 + 1);
        if (sp2 < 0 || sp2 == sp1 + 1 || indexOf(SP, sp2 + 1) >= 0) {
            return RejectReason.INVALID_REQUEST_LINE;
        }
        int versionLength = lineLength - sp2 - 1;
        if (versionLength != 8 || !regionEquals(sp2 + 1, "HTTP/1.")) {
            return RejectReason.INVALID_REQUEST_LINE;
        }
        byte minor = line[lineLength - 1];
        if (minor != '0' && minor != '1') {
            return RejectReason.INVALID_REQUEST_LINE;
        }
        http10 = minor == '0';
        return null;
    }

    private RejectReason headerLine() {
        if (++headerCount > limits.maxHeaderCount()) {
            return RejectReason.TOO_MANY_HEADERS;
        }
        int colon = -1;
        for (int i = 0; i < lineLength; i++) {
            byte b = line[i];
            if (b == ':') {
                colon = i;
                break;
            }
            if (b == SP || b == HTAB) {
                return RejectReason.WHITESPACE_BEFORE_COLON;
            }
            if (!isTchar(b)) {
                return RejectReason.INVALID_HEADER;
            }
        }
        if (colon <= 0) {
            return RejectReason.INVALID_HEADER;
        }
        int valueStart = colon + 1;
        while (valueStart < lineLength && (line[valueStart] == SP || line[valueStart] == HTAB)) {
            valueStart++;
        }
        if (nameIs(colon, "host")) {
            hostCount++;
        } else if (nameIs(colon, "content-length")) {
            if (++contentLengthCount > 1) {
                return RejectReason.DUPLICATE_CONTENT_LENGTH;
            }
            return contentLength(valueStart);
        } else if (nameIs(colon, "transfer-encoding")) {
            if (++transferEncodingCount > 1) {
                return RejectReason.UNSUPPORTED_TRANSFER_ENCODING;
            }
            // Exactly "chunked": no other coding, no list, no case or whitespace variants.
            if (lineLength - valueStart != 7 || !regionEquals(valueStart, "chunked")) {
                return RejectReason.UNSUPPORTED_TRANSFER_ENCODING;
            }
        }
        return null;
    }

    private RejectReason contentLength(int valueStart) {
        int valueEnd = lineLength;
        while (valueEnd > valueStart && (line[valueEnd - 1] == SP || line[valueEnd - 1] == HTAB)) {
            valueEnd--;
        }
        int digits = valueEnd - valueStart;
        if (digits == 0 || digits > MAX_CONTENT_LENGTH_DIGITS || (digits > 1 && line[valueStart] == '0')) {
            return RejectReason.INVALID_CONTENT_LENGTH;
        }
        long value = 0;
        for (int i = valueStart; i < valueEnd; i++) {
            byte b = line[i];
            if (b == ',') {
                return RejectReason.DUPLICATE_CONTENT_LENGTH;
            }
            if (b < '0' || b > '9') {
                return RejectReason.INVALID_CONTENT_LENGTH;
            }
            value = value * 10 + (b - '0');
        }
        remaining = value;
        return null;
    }

    private RejectReason endOfHead() {
        if (transferEncodingCount > 0 && contentLengthCount > 0) {
            return RejectReason.CONTENT_LENGTH_WITH_TRANSFER_ENCODING;
        }
        if (transferEncodingCount > 0 && http10) {
            return RejectReason.UNSUPPORTED_TRANSFER_ENCODING;
        }
        if (hostCount > 1) {
            return RejectReason.DUPLICATE_HOST;
        }
        if (hostCount == 0 && !http10) {
            return RejectReason.MISSING_HOST;
        }
        if (line.length > 4 * INITIAL_LINE_BUFFER) {
            line = new byte[INITIAL_LINE_BUFFER];
        }
        if (transferEncodingCount > 0) {
            state = State.CHUNK_SIZE;
            remaining = 0;
            chunkSizeDigits = 0;
        } else {
            state = remaining > 0 ? State.FIXED_BODY : State.REQUEST_START;
        }
        return null;
    }

    private RejectReason chunkSizeByte(byte b) {
        int digit = Character.digit(b, 16);
        if (digit >= 0) {
            if (++chunkSizeDigits > MAX_CHUNK_SIZE_DIGITS) {
                return RejectReason.INVALID_CHUNK_SIZE;
            }
            remaining = remaining * 16 + digit;
            return remaining > Integer.MAX_VALUE ? RejectReason.INVALID_CHUNK_SIZE : null;
        }
        switch (b) {
            case CR:
                state = State.CHUNK_SIZE_LF;
                return null;
            case LF:
                return RejectReason.BARE_LF;
            case ';':
                return RejectReason.CHUNK_EXTENSION;
            default:
                return RejectReason.INVALID_CHUNK_SIZE;
        }
    }

    private int indexOf(byte b, int from) {
        for (int i = from; i < lineLength; i++) {
            if (line[i] == b) {
                return i;
            }
        }
        return -1;
    }

    private boolean regionEquals(int from, String ascii) {
        if (from + ascii.length() > lineLength) {
            return false;
        }
        for (int i = 0; i < ascii.length(); i++) {
            if (line[from + i] != ascii.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /** Whether the header name (line[0, nameLength)) is {@code lowerName}, ignoring ASCII case. */
    private boolean nameIs(int nameLength, String lowerName) {
        if (nameLength != lowerName.length()) {
            return false;
        }
        for (int i = 0; i < nameLength; i++) {
            int c = line[i];
            if (c >= 'A' && c <= 'Z') {
                c += 32;
            }
            if (c != lowerName.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    private static boolean isTchar(byte b) {
        return b >= 0 && TCHAR[b];
    }
}
