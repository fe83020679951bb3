package dev.tollgate.controlplane.store;

import java.util.Optional;

import dev.tollgate.api.SpiffeId;

/** What redeeming a join token did; the workload is present whenever the token was known. */
public record JoinTokenRedemption(Outcome outcome, Optional<SpiffeId> workload) {
    public enum Outcome {
        REDEEMED, UNKNOWN, ALREADY_USED, EXPIRED, REVOKED
    }
}
