package dev.tollgate.api.wire;

import java.util.List;

/** The CA's slots and the trust bundle's sequence number. */
public record CaStatusView(String trustDomain, long bundleSequence, List<CaSlotView> slots) {
}
