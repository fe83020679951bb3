{{/* Chart name, overridable. */}}
{{- define "tollgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource name prefix: <release>-tollgate, or the release name alone when it already says tollgate. */}}
{{- define "tollgate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of the admin (metrics) Service. */}}
{{- define "tollgate.adminServiceName" -}}
{{- printf "%s-admin" (include "tollgate.fullname" . | trunc 57 | trimSuffix "-") }}
{{- end }}

{{- define "tollgate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource of the control plane. */}}
{{- define "tollgate.labels" -}}
helm.sh/chart: {{ include "tollgate.chart" . }}
{{ include "tollgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tollgate
{{- end }}

{{/* Labels that select the control-plane pods. */}}
{{- define "tollgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tollgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: control-plane
{{- end }}

{{/* image:tag of the control plane. */}}
{{- define "tollgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
"sqlite" or "postgresql", from database.url; any other scheme stops the rendering (the control plane would refuse it
at start anyway).
*/}}
{{- define "tollgate.databaseKind" -}}
{{- $url := .Values.database.url | default "" }}
{{- if or (eq $url "") (hasPrefix "jdbc:sqlite:" $url) }}
{{- print "sqlite" }}
{{- else if hasPrefix "jdbc:postgresql:" $url }}
{{- print "postgresql" }}
{{- else }}
{{- fail (printf "database.url: '%s' (expected: empty, jdbc:sqlite:<file> or jdbc:postgresql://...)" $url) }}
{{- end }}
{{- end }}

{{/* Replicas, checked against the database: SQLite is one file on one volume, so one replica. */}}
{{- define "tollgate.replicas" -}}
{{- $replicas := int .Values.controlPlane.replicas }}
{{- if and (eq (include "tollgate.databaseKind" .) "sqlite") (ne $replicas 1) }}
{{- fail (printf "controlPlane.replicas: %d (expected: 1 with SQLite; set database.url to jdbc:postgresql://... for several replicas)" $replicas) }}
{{- end }}
{{- $replicas }}
{{- end }}

{{/* Name of the KEK Secret; rendering stops without it. */}}
{{- define "tollgate.kekSecret" -}}
{{- required "kek.existingSecret: not set (expected: the name of an existing Secret holding the key-encryption key; see values.yaml)" .Values.kek.existingSecret }}
{{- end }}

{{/*
The control-plane configuration file: controlPlane.config with the options the chart owns laid over it (data
volume, listen addresses reachable from outside the pod, database). Keys are those of config/control-plane.yaml.
*/}}
{{- define "tollgate.controlPlaneConfig" -}}
{{- $cfg := deepCopy (.Values.controlPlane.config | default dict) }}
{{- $db := dict "max-pool-size" (int .Values.database.maxPoolSize) }}
{{- with .Values.database.url }}{{ $_ := set $db "url" . }}{{ end }}
{{- with .Values.database.user }}{{ $_ := set $db "user" . }}{{ end }}
{{- $api := deepCopy (get $cfg "api" | default dict) }}
{{- $_ := set $api "listen" "0.0.0.0:8443" }}
{{- $_ := set $cfg "api" $api }}
{{- $_ := set $cfg "admin" (dict "listen" "0.0.0.0:9443") }}
{{- $_ := set $cfg "data-dir" "/var/lib/tollgate/control-plane" }}
{{- $_ := set $cfg "database" $db }}
{{- toYaml $cfg }}
{{- end }}

{{/* Labels that select the webhook (sidecar injector) pods. */}}
{{- define "tollgate.webhookSelectorLabels" -}}
app.kubernetes.io/name: {{ include "tollgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end }}

{{/* Labels of every resource of the webhook. */}}
{{- define "tollgate.webhookLabels" -}}
helm.sh/chart: {{ include "tollgate.chart" . }}
{{ include "tollgate.webhookSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tollgate
{{- end }}

{{/* Name of the webhook's Deployment, Service and configuration objects. */}}
{{- define "tollgate.webhookName" -}}
{{- printf "%s-webhook" (include "tollgate.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/* Name of the Secret holding the webhook's serving certificate (cert-manager's, or webhook.tls.existingSecret). */}}
{{- define "tollgate.webhookTlsSecret" -}}
{{- if .Values.webhook.tls.certManager.enabled }}
{{- printf "%s-tls" (include "tollgate.webhookName" .) }}
{{- else }}
{{- required "webhook.tls.existingSecret: not set (expected: a kubernetes.io/tls Secret with the webhook's serving certificate, or webhook.tls.certManager.enabled: true)" .Values.webhook.tls.existingSecret }}
{{- end }}
{{- end }}

{{/* image:tag of the injected sidecar. */}}
{{- define "tollgate.sidecarImage" -}}
{{- $s := .Values.sidecar }}
{{- printf "%s:%s" ($s.image.repository | default .Values.image.repository) ($s.image.tag | default .Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
The webhook's configuration file (keys of config/webhook.yaml): how to serve, and what to inject, taken from the
sidecar.* values so that injected sidecars and the tollgate.sidecar helper agree.
*/}}
{{- define "tollgate.webhookConfig" -}}
{{- $w := .Values.webhook }}
{{- $s := .Values.sidecar }}
{{- $url := $w.controlPlaneUrl }}
{{- if not $url }}
{{- if not .Values.controlPlane.enabled }}
{{- fail "webhook.controlPlaneUrl: not set (expected: the control plane's API URL, like https://tollgate.tollgate.svc:8443, when controlPlane.enabled is false)" }}
{{- end }}
{{- $url = printf "https://%s.%s.svc:%d" (include "tollgate.fullname" .) .Release.Namespace (int .Values.service.api.port) }}
{{- end }}
{{- $sidecar := dict
  "image" (include "tollgate.sidecarImage" .)
  "image-pull-policy" ($s.image.pullPolicy | default .Values.image.pullPolicy)
  "native" $w.nativeSidecar
  "control-plane-url" $url
  "trust-domain" (index .Values.controlPlane.config "trust-domain" | default "tollgate.local")
  "trust-anchor" (printf "/etc/tollgate/trust-anchor/%s" $w.trustAnchor.key)
  "token-audience" ($w.tokenAudience | default "")
  "token-expiration" (printf "%ds" (int $w.tokenExpirationSeconds))
  "ports" (dict "admin" (int $s.ports.admin) "egress" (int $s.ports.egress) "ingress" (int $s.ports.ingress))
  "run-as-user" (int $s.securityContext.runAsUser)
  "run-as-group" (int $s.securityContext.runAsGroup)
  "java-opts" $s.javaOpts
  "resources" $s.resources
  "startup-timeout" $w.sidecarStartupTimeout
  "config" ($w.sidecarConfig | default dict) }}
{{- $cfg := dict
  "listen" "0.0.0.0:9444"
  "admin" (dict "listen" "0.0.0.0:9445")
  "tls" (dict "cert" "/etc/tollgate/webhook-tls/tls.crt" "key" "/etc/tollgate/webhook-tls/tls.key" "reload-interval" "10s")
  "sidecar" $sidecar }}
{{- toYaml $cfg }}
{{- end }}

{{/* The namespaces whose pods the webhook never sees: the release's own (the control plane and the webhook) and kube-system. */}}
{{- define "tollgate.webhookExcludedNamespaces" -}}
{{- $excluded := list .Release.Namespace "kube-system" }}
{{- range .Values.webhook.excludeNamespaces }}{{ $excluded = append $excluded . }}{{ end }}
{{- toJson ($excluded | uniq) }}
{{- end }}
