/** The sidecar injector: a mutating admission webhook that adds the Tollgate sidecar to opted-in pods. */
package dev.tollgate.webhook;
