/** Benchmarks: figures are measured and recorded with their command and machine, never asserted by tests. */
package dev.tollgate.bench;
