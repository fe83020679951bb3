/**
 * One request, one pass: the {@link dev.tollgate.proxy.request.RequestContext} every HTTP request gets right after
 * hardening (route, normalised path and query, identities, verified credential, inspection result, admission, header
 * edits, response filter), the read-only {@link dev.tollgate.proxy.request.RequestView} the gates decide over, the
 * {@link dev.tollgate.proxy.request.HeaderEdit}s they return, and the {@link dev.tollgate.proxy.request.EnforcementWalk}
 * that names the order of the enforcement steps.
 */
package dev.tollgate.proxy.request;
