/** The request gate: the allow/deny decision taken on every request before anything is forwarded. */
package dev.tollgate.proxy.gate;
