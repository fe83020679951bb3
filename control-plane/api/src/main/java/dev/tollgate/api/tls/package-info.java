/** PEM, X.509-SVID and SPIFFE trust helpers used by the control plane, the sidecar and the CLI. */
package dev.tollgate.api.tls;
