package dev.tollgate.api;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.ECPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.regex.Pattern;

import dev.tollgate.api.tls.Pem;
import dev.tollgate.api.tls.Svids;
import dev.tollgate.api.wire.AuditCheckpointView;

/**
 * How an audit checkpoint is signed and checked, shared by the control plane (which signs), the sidecar (which keeps
 * the latest it received) and the CLI (which verifies exported checkpoints).
 *
 * <p>The signature is ECDSA P-256 with SHA-256 (DER, base64) over the UTF-8 bytes of {@link #signedText}: six lines,
 * each ending in a newline:
 * <pre>
 * tollgate-audit-checkpoint/v1
 * origin &lt;trust domain&gt;
 * seq &lt;sequence number of the last event covered&gt;
 * head &lt;that event's chain hash, 64 lower-case hex digits&gt;
 * at &lt;epoch milliseconds&gt;
 * key &lt;key id&gt;
 * </pre>
 * Because each event's chain hash is {@code SHA-256(previous hash || event)}, the signed head hash commits to every
 * event up to {@code seq}: changing, removing or reordering any of them changes it.
 */
public final class AuditCheckpoints {
    /** The format name, first line of the signed text and {@code format} of the JSON. */
    public static final String FORMAT = "tollgate-audit-checkpoint/v1";
    /** The signature algorithm, by its JCA name. */
    public static final String ALGORITHM = "SHA256withECDSA";
    /** Largest checkpoint public key PEM accepted. */
    public static final int MAX_PUBLIC_KEY_CHARS = 4096;

    private static final Pattern HASH = Pattern.compile("[0-9a-f]{64}");

    private AuditCheckpoints() {
    }

    /** The exact text the signature covers. */
    public static String signedText(String origin, long seq, String headHash, long atMillis, String keyId) {
        return FORMAT + "\norigin " + origin + "\nseq " + seq + "\nhead " + headHash + "\nat " + atMillis
                + "\nkey " + keyId + "\n";
    }

    public static String signedText(AuditCheckpointView c) {
        return signedText(c.origin(), c.seq(), c.headHash(), c.at().toEpochMilli(), c.keyId());
    }

    /** The key id of a public key: lower-case hex SHA-256 of its DER SubjectPublicKeyInfo. */
    public static String keyId(PublicKey key) {
        return Svids.fingerprint(key);
    }

    /** Signs the text with a P-256 private key; returns base64 DER. */
    public static String sign(PrivateKey key, String text) {
        try {
            Signature s = Signature.getInstance(ALGORITHM);
            s.initSign(key);
            s.update(text.getBytes(StandardCharsets.UTF_8));
            return Base64.getEncoder().encodeToString(s.sign());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot sign an audit checkpoint: " + e.getMessage(), e);
        }
    }

    /** Parses a P-256 public key from PEM ("PUBLIC KEY", DER SubjectPublicKeyInfo). */
    public static ECPublicKey publicKey(String pem) {
        if (pem == null || pem.isBlank()) {
            throw new IllegalArgumentException("public key: missing (expected: a PEM PUBLIC KEY)");
        }
        if (pem.length() > MAX_PUBLIC_KEY_CHARS) {
            throw new IllegalArgumentException("public key: " + pem.length() + " characters (expected: at most "
                    + MAX_PUBLIC_KEY_CHARS + ")");
        }
        String body = pem.replace("-----BEGIN PUBLIC KEY-----", "").replace("-----END PUBLIC KEY-----", "")
                .replaceAll("\\s", "");
        try {
            PublicKey key = KeyFactory.getInstance("EC")
                    .generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(body)));
            if (!(key instanceof ECPublicKey ec) || ec.getParams().getCurve().getField().getFieldSize() != 256) {
                throw new IllegalArgumentException("public key: not a P-256 key");
            }
            return ec;
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            if (e instanceof IllegalArgumentException iae && iae.getMessage().startsWith("public key:")) {
                throw iae;
            }
            throw new IllegalArgumentException("public key: not a PEM P-256 PUBLIC KEY (" + e.getMessage() + ")", e);
        }
    }

    public static String publicKeyPem(PublicKey key) {
        return Pem.encodePublicKey(key);
    }

    /**
     * Checks a checkpoint's form and its signature under {@code key}, which the caller chose to trust (from its own
     * key set, never from the checkpoint alone); the key id must be that key's.
     *
     * @throws IllegalArgumentException naming what is wrong
     */
    public static void verify(AuditCheckpointView c, PublicKey key) {
        checkForm(c);
        if (!keyId(key).equals(c.keyId())) {
            throw new IllegalArgumentException("checkpoint " + c.seq() + ": signed by key " + c.keyId()
                    + ", not by key " + keyId(key));
        }
        boolean ok;
        try {
            Signature s = Signature.getInstance(ALGORITHM);
            s.initVerify(key);
            s.update(signedText(c).getBytes(StandardCharsets.UTF_8));
            ok = s.verify(Base64.getDecoder().decode(c.signature()));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            ok = false;
        }
        if (!ok) {
            throw new IllegalArgumentException("checkpoint " + c.seq() + ": the signature does not verify under key "
                    + c.keyId());
        }
    }

    /**
     * Checks the fields of a checkpoint (not its signature).
     *
     * @throws IllegalArgumentException naming the first bad field
     */
    public static void checkForm(AuditCheckpointView c) {
        if (c == null) {
            throw new IllegalArgumentException("checkpoint: missing");
        }
        if (!FORMAT.equals(c.format())) {
            throw new IllegalArgumentException("checkpoint format: '" + c.format() + "' (expected: " + FORMAT + ")");
        }
        if (c.seq() < 1) {
            throw new IllegalArgumentException("checkpoint seq: " + c.seq() + " (expected: >= 1)");
        }
        if (c.headHash() == null || !HASH.matcher(c.headHash()).matches()) {
            throw new IllegalArgumentException("checkpoint headHash: expected 64 lower-case hex digits");
        }
        if (c.origin() == null || c.origin().isEmpty() || c.origin().contains("\n")) {
            throw new IllegalArgumentException("checkpoint origin: missing or not one line");
        }
        if (c.at() == null) {
            throw new IllegalArgumentException("checkpoint at: missing");
        }
        if (c.keyId() == null || !HASH.matcher(c.keyId()).matches()) {
            throw new IllegalArgumentException("checkpoint keyId: expected 64 lower-case hex digits");
        }
        if (c.signature() == null || c.signature().isEmpty()) {
            throw new IllegalArgumentException("checkpoint signature: missing");
        }
    }
}
