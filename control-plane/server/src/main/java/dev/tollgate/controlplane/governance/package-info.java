/** Governance of what agents rely on beyond their own credentials: time-boxed, scoped, owned exceptions and upstream secrets for credential injection bound to them. */
package dev.tollgate.controlplane.governance;
