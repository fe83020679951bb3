/** Tool-call inspection: the bounded JSON-RPC and REST readers, the scope and policy gate, response filtering. */
package dev.tollgate.proxy.inspect;
