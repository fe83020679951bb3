/** Test support for the sidecar: a per-test mesh of PKI files and sidecars, a local app, clients and a movable clock. */
package dev.tollgate.proxy.support;
