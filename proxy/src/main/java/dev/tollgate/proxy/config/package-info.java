/** The sidecar's configuration: immutable records parsed once from YAML, with every default in one place. */
package dev.tollgate.proxy.config;
