/** The launcher and the operator CLI (ctl) over the control plane's API. */
package dev.tollgate.cli;
