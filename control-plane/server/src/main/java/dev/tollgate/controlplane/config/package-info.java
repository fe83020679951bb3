/** Control-plane configuration: options declared once, parsed once into immutable records, all errors at once. */
package dev.tollgate.controlplane.config;
