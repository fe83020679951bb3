/** The sidecar's listeners (ingress, egress, admin, L4): one ChannelInitializer each, and the handlers they compose. */
package dev.tollgate.proxy.listener;
