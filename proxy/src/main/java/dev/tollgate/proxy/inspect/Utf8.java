package dev.tollgate.proxy.inspect;

/** Strict UTF-8 validation (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
final class Utf8 {
    private Utf8() {
    }

    /**
     * Whether one of the first four bytes is zero: JSON text never holds a raw NUL, and Jackson, given bytes, reads such
     * a start as UTF-16 or UTF-32 (RFC 4627's detection) where the upstream reads UTF-8.
     */
    static boolean nulInFirstFour(byte[] b, int off, int len) {
        for (int i = off, end = off + Math.min(len, 4); i < end; i++) {
            if (b[i] == 0) {
                return true;
            }
        }
        return false;
    }

    /** The offset of the first byte of the first invalid sequence, or -1 when all of it is valid UTF-8. */
    static int firstInvalid(byte[] b, int off, int len) {
        int i = off;
        int end = off + len;
        while (i < end) {
            int c = b[i] & 0xff;
            if (c < 0x80) {
                i++;
                continue;
            }
            int n;
            int min;
            if (c >= 0xc2 && c <= 0xdf) {
                n = 1;
                min = 0x80;
            } else if (c >= 0xe0 && c <= 0xef) {
                n = 2;
                min = 0x800;
            } else if (c >= 0xf0 && c <= 0xf4) {
                n = 3;
                min = 0x10000;
            } else {
                return i;
            }
            if (i + n >= end) {
                return i;
            }
            int cp = c & (0x3f >> n);
            for (int k = 1; k <= n; k++) {
                int cc = b[i + k] & 0xff;
                if ((cc & 0xc0) != 0x80) {
                    return i;
                }
                cp = (cp << 6) | (cc & 0x3f);
            }
            if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
                return i;
            }
            i += n + 1;
        }
        return -1;
    }
}
