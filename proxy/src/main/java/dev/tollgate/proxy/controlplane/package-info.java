/**
 * The sidecar's calls to the control plane (join, attestation, renewal, token exchange, watch stream, decision
 * batches, policy and secret fetches) on Netty with BoringSSL: {@link dev.tollgate.proxy.controlplane.ControlPlaneTransport}.
 */
package dev.tollgate.proxy.controlplane;
