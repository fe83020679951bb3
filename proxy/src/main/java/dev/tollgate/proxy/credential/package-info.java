/** Task-credential enforcement: verified-token cache, token exchange on egress, revocation and staleness state. */
package dev.tollgate.proxy.credential;
