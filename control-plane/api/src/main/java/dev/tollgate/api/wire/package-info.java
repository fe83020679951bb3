/** The JSON records of the operator API and the sidecar / control-plane protocol. */
package dev.tollgate.api.wire;
