/** The transition-policy language: a strict YAML loader, the compiled {@link dev.tollgate.api.policy.Policy} and its per-task evaluation. */
package dev.tollgate.api.policy;
