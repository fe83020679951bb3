/** Policy versions: validated, stored once per digest, made current by operators and published to sidecars. */
package dev.tollgate.controlplane.policy;
