/** Test support shared by every module: a per-test PKI and the Netty leak-detection extension. */
package dev.tollgate.testing;
