package dev.tollgate.proxy.forward;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

import dev.tollgate.proxy.config.SidecarConfig;

/**
 * Picks the egress upstream for a request: first an exact match of the Host header (lower-cased, port removed)
 * against {@code match.host}, then the longest {@code match.path-prefix} that matches whole path segments.
 */
public final class UpstreamRouter implements dev.tollgate.proxy.request.RequestContext.Router {
    private final List<SidecarConfig.Upstream> upstreams;

    public UpstreamRouter(List<SidecarConfig.Upstream> upstreams) {
        this.upstreams = List.copyOf(upstreams);
    }

    /** The upstream for a request with this Host header (null when absent) and path (without the query). */
    @Override
    public Optional<SidecarConfig.Upstream> select(String hostHeader, String path) {
        String host = hostOf(hostHeader);
        if (host != null) {
            for (SidecarConfig.Upstream u : upstreams) {
                if (u.match().host().isPresent() && u.match().host().get().equals(host)) {
                    return Optional.of(u);
                }
            }
        }
        SidecarConfig.Upstream best = null;
        int bestLength = -1;
        for (SidecarConfig.Upstream u : upstreams) {
            if (u.match().pathPrefix().isEmpty()) {
                continue;
            }
            String prefix = u.match().pathPrefix().get();
            if (segmentPrefix(path, prefix) && prefix.length() > bestLength) {
                best = u;
                bestLength = prefix.length();
            }
        }
        return Optional.ofNullable(best);
    }

    static String hostOf(String hostHeader) {
        if (hostHeader == null || hostHeader.isEmpty()) {
            return null;
        }
        String h = hostHeader;
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            return end < 0 ? null : h.substring(0, end + 1).toLowerCase(Locale.ROOT);
        }
        int colon = h.indexOf(':');
        if (colon >= 0) {
            h = h.substring(0, colon);
        }
        return h.toLowerCase(Locale.ROOT);
    }

    static boolean segmentPrefix(String path, String prefix) {
        if (!path.startsWith(prefix)) {
            return false;
        }
        return prefix.endsWith("/") || path.length() == prefix.length() || path.charAt(prefix.length()) == '/';
    }
}
