/** Workload registrations, join tokens and X.509-SVID issuance and renewal. */
package dev.tollgate.controlplane.identity;
