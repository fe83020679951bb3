/** The certificate authority: X.509-SVID templates, signing, validation of every issued certificate, CSR parsing, CA key encryption and CA rotation through prepared / active / old slots. */
package dev.tollgate.controlplane.ca;
