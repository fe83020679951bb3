package dev.tollgate.proxy.credential;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** The cache key of a token: its SHA-256, so the cache never holds token strings and a lookup is one hash (public for bench/). */
public record TokenKey(long a, long b, long c, long d) {
    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    });

    public static TokenKey of(String token) {
        MessageDigest md = SHA256.get();
        ByteBuffer h = ByteBuffer.wrap(md.digest(token.getBytes(StandardCharsets.US_ASCII)));
        return new TokenKey(h.getLong(), h.getLong(), h.getLong(), h.getLong());
    }
}
