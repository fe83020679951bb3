{{/*
tollgate.sidecar: the Tollgate sidecar container, for an agent (or tool) pod's `containers:` list.
tollgate.sidecarVolumes: the volumes it mounts, for the pod's `volumes:` list.

Both take the tollgate chart's scope. From an agent chart that depends on this chart (alias tollgate):

  containers:
    - name: agent
      ...
    {{- include "tollgate.sidecar" .Subcharts.tollgate | nindent 4 }}
  volumes:
    {{- include "tollgate.sidecarVolumes" .Subcharts.tollgate | nindent 4 }}

and set the agent chart's tollgate.sidecar.* values (tollgate.controlPlane.enabled: false when the control plane is
installed by its own release). Only the container is managed: sidecar.yaml in sidecar.configMap holds the sidecar's
configuration and must bind the admin listener to 0.0.0.0 (the probes below reach it on the pod IP).
*/}}
{{- define "tollgate.sidecar" -}}
{{- $s := .Values.sidecar }}
{{- $cm := required "sidecar.configMap: not set (expected: the name of an existing ConfigMap holding sidecar.yaml)" $s.configMap }}
{{- $repo := $s.image.repository | default .Values.image.repository }}
{{- $tag := $s.image.tag | default .Values.image.tag | default .Chart.AppVersion }}
- name: tollgate-sidecar
  image: {{ printf "%s:%s" $repo $tag | quote }}
  imagePullPolicy: {{ $s.image.pullPolicy | default .Values.image.pullPolicy }}
  # The image's entrypoint is the tollgate launcher.
  args:
    - sidecar
    - --config
    - /etc/tollgate/sidecar.yaml
    {{- range $s.extraArgs }}
    - {{ . | quote }}
    {{- end }}
  env:
    # Read by the launcher.
    - name: TOLLGATE_JAVA_OPTS
      value: {{ $s.javaOpts | quote }}
  ports:
    # Egress ({{ $s.ports.egress }}) is bound to 127.0.0.1 for the agent in this pod and is not declared here.
    - name: tg-ingress
      containerPort: {{ $s.ports.ingress }}
      protocol: TCP
    - name: tg-admin
      containerPort: {{ $s.ports.admin }}
      protocol: TCP
  livenessProbe:
    httpGet:
      path: /healthz
      port: tg-admin
    {{- toYaml $s.probes.liveness | nindent 4 }}
  # Not ready until the sidecar holds a valid SVID: no traffic reaches the pod before that.
  readinessProbe:
    httpGet:
      path: /readyz
      port: tg-admin
    {{- toYaml $s.probes.readiness | nindent 4 }}
  securityContext:
    {{- toYaml $s.securityContext | nindent 4 }}
  resources:
    {{- toYaml $s.resources | nindent 4 }}
  volumeMounts:
    - name: tollgate-sidecar-config
      mountPath: /etc/tollgate
      readOnly: true
    # Runtime state (the SVID and its private key, which never leave the pod), kept in memory.
    - name: tollgate-sidecar-run
      mountPath: /var/run/tollgate
    - name: tollgate-sidecar-tmp
      mountPath: /tmp
    {{- if $s.joinToken.secretName }}
    - name: tollgate-join-token
      mountPath: /var/run/secrets/tollgate/join-token
      readOnly: true
    {{- end }}
{{- end }}

{{- define "tollgate.sidecarVolumes" -}}
{{- $s := .Values.sidecar }}
- name: tollgate-sidecar-config
  configMap:
    name: {{ required "sidecar.configMap: not set (expected: the name of an existing ConfigMap holding sidecar.yaml)" $s.configMap }}
    items:
      - key: sidecar.yaml
        path: sidecar.yaml
- name: tollgate-sidecar-run
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
- name: tollgate-sidecar-tmp
  emptyDir: {}
{{- if $s.joinToken.secretName }}
- name: tollgate-join-token
  secret:
    secretName: {{ $s.joinToken.secretName }}
    defaultMode: 0400
    items:
      - key: {{ $s.joinToken.secretKey }}
        path: token
{{- end }}
{{- end }}
