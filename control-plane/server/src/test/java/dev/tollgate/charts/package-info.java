/** Tests of {@code charts/}: the Helm chart rendered by an embedded Helm, the alert rules and the dashboard. */
package dev.tollgate.charts;
