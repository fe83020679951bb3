#!/bin/sh
# The image's launcher: what ./tollgate runs, without the build step. Extra JVM options come from
# TOLLGATE_JAVA_OPTS (the chart's controlPlane.javaOpts, sidecar.javaOpts, webhook.javaOpts) and JAVA_TOOL_OPTIONS.
# The sidecar starts from its own jar (only the sidecar's class path), with its own JVM options and the class-data
# archive made when the image was built.
if [ "${1:-}" = sidecar ]; then
  export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
  shift
  exec java @/opt/tollgate/sidecar-jvm.options -XX:SharedArchiveFile=/opt/tollgate/sidecar.jsa ${TOLLGATE_JAVA_OPTS:-} -jar /opt/tollgate/tollgate-sidecar.jar "$@"
fi
exec java ${TOLLGATE_JAVA_OPTS:-} -jar /opt/tollgate/tollgate.jar "$@"
