/** A client of the control plane's HTTPS API, shared by the operator CLI and the sidecar. */
package dev.tollgate.api.client;
