/** Forwarding: HTTP exchanges and TCP tunnels relayed with backpressure to upstreams from per-event-loop pools. */
package dev.tollgate.proxy.forward;
