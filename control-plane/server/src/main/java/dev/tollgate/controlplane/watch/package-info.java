/** The revision-numbered log of what sidecars must know, and the watch stream that carries it. */
package dev.tollgate.controlplane.watch;
