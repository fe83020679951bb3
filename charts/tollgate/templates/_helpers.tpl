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
