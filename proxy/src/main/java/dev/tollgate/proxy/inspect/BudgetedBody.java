package dev.tollgate.proxy.inspect;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledHeapByteBuf;

import dev.tollgate.proxy.http.BodyBudget;

/**
 * The buffer of one inspected request body: on the heap (a stalled body never takes the direct memory the event
 * loops need), its capacity reserved in the {@link BodyBudget} before it is allocated, and given back when the
 * buffer is freed — by the aggregator on a refusal, or by whoever consumes the request last.
 */
final class BudgetedBody extends UnpooledHeapByteBuf {
    private final BodyBudget.Lease lease;

    /** An empty body of {@code initialCapacity} bytes, already reserved in {@code lease}. */
    BudgetedBody(ByteBufAllocator alloc, BodyBudget.Lease lease, int initialCapacity, int maxCapacity) {
        super(alloc, initialCapacity, maxCapacity);
        this.lease = lease;
    }

    /**
     * Appends the readable bytes of {@code content}, first reserving (and then allocating) any capacity it needs.
     *
     * @return null when appended; otherwise the bound the growth would pass (nothing appended)
     */
    BodyBudget.Refusal append(ByteBuf content) {
        int n = content.readableBytes();
        if (n > maxWritableBytes()) {
            throw new IllegalStateException("body over its maximum: " + (writerIndex() + (long) n));
        }
        if (n > writableBytes()) {
            int grown = (int) Math.min(maxCapacity(), Math.max((long) writerIndex() + n, capacity() * 2L));
            BodyBudget.Refusal r = lease.grow(grown - capacity());
            if (r != null) {
                return r;
            }
            capacity(grown);
        }
        writeBytes(content, content.readerIndex(), n);
        return null;
    }

    @Override
    protected void deallocate() {
        try {
            super.deallocate();
        } finally {
            lease.release();
        }
    }
}
