/** The sidecar's decision log: one JSON line per enforcement decision, shipped in batches to the control plane's audit. */
package dev.tollgate.proxy.decision;
