/** JMH microbenchmarks of the sidecar's per-request work, run with {@code org.openjdk.jmh.Main}. */
package dev.tollgate.bench.jmh;
