package dev.tollgate.api.wire;

import java.time.Instant;
import java.util.List;

/**
 * A page of the inventory: the assets that matched, ordered by kind and then newest first, and whether more matched
 * than the limit allowed ({@code truncated}: narrow the filters or raise the limit).
 */
public record InventoryView(Instant at, List<InventoryAssetView> assets, boolean truncated) {
}
