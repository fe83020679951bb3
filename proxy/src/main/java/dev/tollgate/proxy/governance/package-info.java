/**
 * Governance at the sidecar (issue 12): the book of exceptions this sidecar's workload holds
 * ({@link dev.tollgate.proxy.governance.ExceptionBook}, fed by {@link dev.tollgate.proxy.governance.ExceptionWatchListener}),
 * credential injection for legacy upstreams ({@link dev.tollgate.proxy.governance.Injection}, its secrets fetched by
 * {@link dev.tollgate.proxy.governance.UpstreamSecretFetcher}), and the TLS posture of upstreams
 * ({@link dev.tollgate.proxy.governance.UpstreamTlsReporter}). The decisions are pure and unit-tested; the glue into
 * the credential gate, the upstream pool and the decision shipper is a few commented lines at each place.
 */
package dev.tollgate.proxy.governance;
