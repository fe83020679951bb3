package dev.tollgate.proxy.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import io.netty.handler.codec.http.HttpMethod;

/**
 * Without {@code JAZZER_FUZZ=1} jazzer-junit runs this once per file in {@code PathNormalizerFuzzTestInputs/
 * normalizedTargetsAreCanonical/} as a regression test; with it, it fuzzes.
 */
class PathNormalizerFuzzTest {
    private static final List<HttpMethod> METHODS = List.of(HttpMethod.GET, HttpMethod.POST, HttpMethod.OPTIONS,
            HttpMethod.CONNECT);

    @FuzzTest
    void normalizedTargetsAreCanonical(FuzzedDataProvider data) {
        HttpMethod method = METHODS.get(data.consumeInt(0, METHODS.size() - 1));
        // ISO-8859-1 maps each byte to one char, as Netty's decoder does for the request line.
        String target = new String(data.consumeRemainingAsBytes(), StandardCharsets.ISO_8859_1);

        PathNormalizer.Result result = PathNormalizer.normalize(method, target);

        if (result instanceof PathNormalizer.Rejected) {
            assertThat(((PathNormalizer.Rejected) result).reason()).isNotNull();
            return;
        }
        NormalizedTarget normalized = (NormalizedTarget) result;
        String path = normalized.path();
        if (path.equals("*")) {
            assertThat(method).isEqualTo(HttpMethod.OPTIONS);
            return;
        }
        assertThat(path).startsWith("/").doesNotContain("//").doesNotContain("\\");
        String upper = path.toUpperCase(Locale.ROOT);
        assertThat(upper).doesNotContain("%2F").doesNotContain("%5C").doesNotContain("%00").doesNotContain("%2E");
        for (char c : normalized.toUri().toCharArray()) {
            assertThat(c).isBetween('!', '~');
        }
        for (String segment : path.substring(1).split("/", -1)) {
            String name = segment.contains(";") ? segment.substring(0, segment.indexOf(';')) : segment;
            assertThat(name).isNotEqualTo(".").isNotEqualTo("..");
        }
        assertThat(PathNormalizer.normalize(method, normalized.toUri())).isEqualTo(normalized);
    }
}
