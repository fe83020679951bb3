package dev.tollgate.api.wire;

/**
 * The result of {@code PUT /v1/policy}.
 *
 * @param policy          the current policy version after the upload (without its text)
 * @param changed         false when the document already was the current policy (nothing was published)
 * @param stored          true when the document was new and stored as a new version
 * @param previousVersion the version current before the upload, or null when there was none
 * @param previousDigest  its digest, or null
 */
public record PolicyActivationView(PolicyView policy, boolean changed, boolean stored, String previousVersion,
                                   String previousDigest) {
}
