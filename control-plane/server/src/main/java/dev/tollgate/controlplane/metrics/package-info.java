/** The control plane's Micrometer meters, all named in one class. */
package dev.tollgate.controlplane.metrics;
