package dev.tollgate.controlplane.store;

/**
 * ACTIVE signs; RETIRED is published until every token it signed has expired; EXPIRED is no longer published;
 * REVOKED was declared compromised: unpublished at once and its tokens denied.
 */
public enum SigningKeyState {
    ACTIVE, RETIRED, EXPIRED, REVOKED
}
