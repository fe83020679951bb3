/** The sidecar's Micrometer meters: every meter name in {@link dev.tollgate.proxy.metrics.ProxyMetrics}, every tag value from an enum. */
package dev.tollgate.proxy.metrics;
