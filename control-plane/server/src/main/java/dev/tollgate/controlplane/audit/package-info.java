/** Structured, hash-chained audit events, one kind per fact. */
package dev.tollgate.controlplane.audit;
