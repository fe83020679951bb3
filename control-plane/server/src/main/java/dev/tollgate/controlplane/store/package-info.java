/** Durable control-plane state on SQLite or PostgreSQL behind one interface and one schema. */
package dev.tollgate.controlplane.store;
