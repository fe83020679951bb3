#!/bin/sh
# The image's launcher: what ./tollgate runs, without the build step. Extra JVM options come from
# TOLLGATE_JAVA_OPTS (the chart's controlPlane.javaOpts, sidecar.javaOpts, webhook.javaOpts) and JAVA_TOOL_OPTIONS.
exec java ${TOLLGATE_JAVA_OPTS:-} -jar /opt/tollgate/tollgate.jar "$@"
