/** The Tollgate sidecar: the {@link dev.tollgate.proxy.Sidecar} process and its {@code sidecar} command. */
package dev.tollgate.proxy;
