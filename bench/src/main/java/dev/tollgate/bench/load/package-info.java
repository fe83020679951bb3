/** An open-loop HTTP/1.1 load generator for loopback targets: latency from the intended send time, into HdrHistogram. */
package dev.tollgate.bench.load;
