/** TLS for the sidecar: the single owner of SslContexts, certificate sources and SPIFFE peer verification. */
package dev.tollgate.proxy.tls;
