/**
 * The sidecar's identity lifecycle against the control plane: bootstrap with a one-time join token, SVID renewal over
 * mTLS at a fraction of the lifetime, the trust bundle from the watch stream, and failing closed at expiry.
 */
package dev.tollgate.proxy.identity;
