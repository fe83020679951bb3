package dev.tollgate.api.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.security.cert.CertificateException;

import javax.net.ssl.SSLHandshakeException;

import org.junit.jupiter.api.Test;

/** One readable line per failure: no "null", each cause once, bounded. */
class FailuresTest {
    @Test
    void aRefusedConnectionWithoutMessagesSaysSoInsteadOfNull() {
        IOException e = new IOException(null, new ConnectException(null));
        assertThat(Failures.describe(e)).isEqualTo("connection refused");
        assertThat(Failures.describe(new ConnectException())).isEqualTo("connection refused");
        assertThat(Failures.describe(new HttpConnectTimeoutException("HTTP connect timed out")))
                .isEqualTo("connection timed out");
    }

    @Test
    void aCauseRepeatedByItsWrappersIsSaidOnce() {
        CertificateException root = new CertificateException("peer chain does not lead to the trust bundle: "
                + "Path does not chain with any of the trust anchors");
        Throwable t = new SSLHandshakeException(root.toString());
        t.initCause(root);
        for (int i = 0; i < 7; i++) {
            IOException wrapper = new IOException(t.getMessage(), t);
            t = wrapper;
        }
        String line = Failures.describe(t);
        assertThat(line).isEqualTo("peer chain does not lead to the trust bundle: Path does not chain with any of "
                + "the trust anchors");
        assertThat(line.split("does not lead", -1)).hasSize(2);
    }

    @Test
    void aLongChainIsCutToTheLimit() {
        Throwable t = new IllegalStateException("a".repeat(200));
        t = new RuntimeException("b".repeat(200), t);
        assertThat(Failures.describe(t)).hasSize(Failures.MAX_LENGTH).endsWith("…");
    }
}
