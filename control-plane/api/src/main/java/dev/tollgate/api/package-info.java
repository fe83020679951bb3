/** Types both halves of Tollgate share: SPIFFE IDs, certificate helpers and the control-plane client. */
package dev.tollgate.api;
