/** The audit chain's signed checkpoints as the sidecar receives and keeps them. */
package dev.tollgate.proxy.audit;
