/** The sidecar's tool-call policy: loaded from a file or the control plane's watch stream, swapped atomically. */
package dev.tollgate.proxy.policy;
