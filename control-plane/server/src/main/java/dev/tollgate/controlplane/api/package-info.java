/** The operator and workload API: HTTPS with client certificates, routes, roles, problem documents and OpenAPI. */
package dev.tollgate.controlplane.api;
