package dev.tollgate.proxy.http;

import java.util.Objects;

/**
 * A request target after {@link PathNormalizer}: what policy sees and exactly what is forwarded.
 *
 * @param path     the normalised path, starting with {@code /}, or {@code *} for {@code OPTIONS *}
 * @param rawQuery the query as received, without the {@code ?}; {@code null} when the target had no {@code ?}
 */
public record NormalizedTarget(String path, String rawQuery) implements PathNormalizer.Result {
    public NormalizedTarget {
        Objects.requireNonNull(path, "path");
    }

    /** The origin-form target to forward: {@code path}, then {@code ?rawQuery} when there was a query. */
    public String toUri() {
        return rawQuery == null ? path : path + '?' + rawQuery;
    }
}
