/** Governance of what agents rely on beyond their own credentials: upstream secrets for credential injection, bound to time-boxed exceptions. */
package dev.tollgate.controlplane.governance;
