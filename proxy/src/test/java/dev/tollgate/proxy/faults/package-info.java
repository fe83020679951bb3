/** Fault injection between a sidecar and the control plane: Toxiproxy, real or the in-process stand-in. */
package dev.tollgate.proxy.faults;
