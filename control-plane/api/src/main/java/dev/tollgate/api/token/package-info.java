/** Task and exchanged tokens: their claims and scope, the verifier the sidecar runs, its key set and revocation set. */
package dev.tollgate.api.token;
