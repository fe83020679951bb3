/**
 * Kubernetes service-account attestation: the configured clusters, their issuers' keys (OIDC discovery, JWKS URL or
 * file), verification of kubelet-projected tokens, the optional TokenReview call, and the closed set of refusals.
 */
package dev.tollgate.controlplane.identity.k8s;
