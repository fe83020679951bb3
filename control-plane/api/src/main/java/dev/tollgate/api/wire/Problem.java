package dev.tollgate.api.wire;

/**
 * An RFC 9457 problem document ({@code application/problem+json}).
 *
 * @param type   a URI naming the problem kind ({@code urn:tollgate:problem:<reason>})
 * @param reason the stable machine-readable reason, also the last part of type
 */
public record Problem(String type, String title, int status, String detail, String reason) {
    public static final String MEDIA_TYPE = "application/problem+json";

    public static Problem of(int status, String reason, String title, String detail) {
        return new Problem("urn:tollgate:problem:" + reason, title, status, detail, reason);
    }
}
