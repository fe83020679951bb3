/** Governance objects of the control plane: time-boxed, scoped, owned exceptions and their lifecycle. */
package dev.tollgate.controlplane.governance;
