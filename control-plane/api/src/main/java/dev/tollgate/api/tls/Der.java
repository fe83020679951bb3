package dev.tollgate.api.tls;

/**
 * The little DER this package reads without a library: the algorithm of a PKCS#8 {@code PrivateKeyInfo}
 * (RFC 5208: {@code SEQUENCE { version INTEGER, privateKeyAlgorithm SEQUENCE { algorithm OBJECT IDENTIFIER, ... },
 * privateKey OCTET STRING, ... }}), to choose the JDK key factory that then parses the whole key; and that a
 * certificate or key is one definite-length SEQUENCE with nothing after it, before the JDK's parser (which ignores
 * trailing bytes and follows indefinite lengths) reads it. Every length is checked against what encloses it;
 * anything else is refused.
 */
final class Der {
    private static final int SEQUENCE = 0x30;
    private static final int INTEGER = 0x02;
    private static final int OID = 0x06;

    private Der() {
    }

    /**
     * The dotted algorithm OID of a PKCS#8 private key.
     *
     * @throws IllegalArgumentException when the bytes do not begin as a PrivateKeyInfo
     */
    static String pkcs8AlgorithmOid(byte[] der) {
        requireOneSequence(der, "PKCS#8");
        Reader info = new Reader(der, 0, der.length).enter(SEQUENCE);
        info.enter(INTEGER);
        return info.enter(SEQUENCE).oid();
    }

    /**
     * Requires {@code der} to be exactly one SEQUENCE with a definite length: nothing before it, nothing after it.
     *
     * @throws IllegalArgumentException naming {@code what} otherwise
     */
    static void requireOneSequence(byte[] der, String what) {
        Reader r = new Reader(der, 0, der.length);
        try {
            r.enter(SEQUENCE);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(what + ": not one DER SEQUENCE (" + e.getMessage() + ")", e);
        }
        if (r.pos != der.length) {
            throw new IllegalArgumentException(what + ": " + (der.length - r.pos) + " bytes after its DER SEQUENCE");
        }
    }

    private static final class Reader {
        private final byte[] b;
        private int pos;
        private final int end;

        Reader(byte[] b, int pos, int end) {
            this.b = b;
            this.pos = pos;
            this.end = end;
        }

        /** Reads a TLV with this tag; returns a reader over its value, positioned after it. */
        Reader enter(int tag) {
            if (pos >= end || (b[pos] & 0xff) != tag) {
                throw new IllegalArgumentException(String.format("DER: expected tag 0x%02x at byte %d", tag, pos));
            }
            pos++;
            int len = length();
            Reader inner = new Reader(b, pos, pos + len);
            pos += len;
            return inner;
        }

        private int length() {
            if (pos >= end) {
                throw new IllegalArgumentException("DER: truncated at byte " + pos);
            }
            int first = b[pos++] & 0xff;
            int len;
            if (first < 0x80) {
                len = first;
            } else {
                int n = first & 0x7f;
                if (n == 0 || n > 3 || pos + n > end) {
                    throw new IllegalArgumentException("DER: unsupported length form at byte " + (pos - 1));
                }
                len = 0;
                for (int i = 0; i < n; i++) {
                    len = (len << 8) | (b[pos++] & 0xff);
                }
            }
            if (len > end - pos) {
                throw new IllegalArgumentException("DER: length " + len + " overruns its container at byte " + pos);
            }
            return len;
        }

        /** Reads an OBJECT IDENTIFIER in dotted form. */
        String oid() {
            Reader v = enter(OID);
            if (v.pos >= v.end || v.end - v.pos > 64) {
                throw new IllegalArgumentException("PKCS#8: an OBJECT IDENTIFIER of " + (v.end - v.pos) + " bytes");
            }
            StringBuilder s = new StringBuilder();
            long arc = 0;
            boolean firstArc = true;
            for (int i = v.pos; i < v.end; i++) {
                int octet = v.b[i] & 0xff;
                if (arc == 0 && octet == 0x80) {
                    throw new IllegalArgumentException("PKCS#8: OBJECT IDENTIFIER arc with a leading zero octet");
                }
                arc = (arc << 7) | (octet & 0x7f);
                if (arc > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException("PKCS#8: OBJECT IDENTIFIER arc too large");
                }
                if ((octet & 0x80) != 0) {
                    if (i == v.end - 1) {
                        throw new IllegalArgumentException("PKCS#8: OBJECT IDENTIFIER ends inside an arc");
                    }
                    continue;
                }
                if (firstArc) {
                    long top = Math.min(arc / 40, 2);
                    s.append(top).append('.').append(arc - top * 40);
                    firstArc = false;
                } else {
                    s.append('.').append(arc);
                }
                arc = 0;
            }
            return s.toString();
        }
    }
}
