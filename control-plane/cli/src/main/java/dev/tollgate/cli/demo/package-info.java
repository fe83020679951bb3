/** {@code ./tollgate demo}: a control plane, two sidecars, a sample MCP tool server and a scripted agent on loopback. */
package dev.tollgate.cli.demo;
