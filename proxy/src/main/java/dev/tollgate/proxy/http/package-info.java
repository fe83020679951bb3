/** Hardening of inbound HTTP requests: strict framing, limits, request-target normalisation, hop-by-hop and identity headers. */
package dev.tollgate.proxy.http;
