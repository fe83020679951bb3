/** Tasks, their tokens, token signing keys, RFC 8693 token exchange and revocation. */
package dev.tollgate.controlplane.token;
