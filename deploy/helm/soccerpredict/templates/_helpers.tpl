{{/* Names and labels. */}}
{{- define "soccerpredict.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "soccerpredict.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "soccerpredict.selectorLabels" -}}
app.kubernetes.io/name: {{ include "soccerpredict.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "soccerpredict.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "soccerpredict.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: soccerpredict
{{- end -}}

{{- define "soccerpredict.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The variables that carry credentials: only ever read from a Secret. */}}
{{- define "soccerpredict.secretKeys" -}}
KAFKA_SASL_USERNAME KAFKA_SASL_PASSWORD REDIS_URL MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD ADMIN_TOKEN MLFLOW_WEBHOOK_SECRET
{{- end -}}

{{/* The variables the chart sets itself (file paths and the bind address). */}}
{{- define "soccerpredict.chartKeys" -}}
KAFKA_SSL_CAFILE KAFKA_SSL_CERTFILE KAFKA_SSL_KEYFILE REDIS_SSL_CAFILE REDIS_SSL_CERTFILE REDIS_SSL_KEYFILE FEATURES_DIR STATE_DIR WEB_HOST
{{- end -}}

{{- define "soccerpredict.partitions" -}}
{{- $partitions := int (required "config.TOPIC_PARTITIONS is required" .Values.config.TOPIC_PARTITIONS) -}}
{{- if lt $partitions 1 -}}
{{- fail "config.TOPIC_PARTITIONS must be at least 1" -}}
{{- end -}}
{{- $partitions -}}
{{- end -}}

{{- define "soccerpredict.webPort" -}}
{{- int (.Values.config.WEB_PORT | default 6066) -}}
{{- end -}}

{{- define "soccerpredict.kafkaSasl" -}}
{{- hasPrefix "SASL_" (.Values.config.KAFKA_SECURITY_PROTOCOL | default "PLAINTEXT") -}}
{{- end -}}

{{- define "soccerpredict.kafkaTls" -}}
{{- has (.Values.config.KAFKA_SECURITY_PROTOCOL | default "PLAINTEXT") (list "SSL" "SASL_SSL") -}}
{{- end -}}

{{/*
The Secret the credentials come from: the existing one, or the one the chart makes from
secrets.values. Empty when there is neither. Fails when both are given.
*/}}
{{- define "soccerpredict.secretName" -}}
{{- $values := .Values.secrets.values | default dict -}}
{{- if and .Values.secrets.existingSecret (gt (len $values) 0) -}}
{{- fail "give secrets.existingSecret or secrets.values, not both" -}}
{{- end -}}
{{- if .Values.secrets.existingSecret -}}
{{- .Values.secrets.existingSecret -}}
{{- else if gt (len $values) 0 -}}
{{- printf "%s-credentials" (include "soccerpredict.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
Environment of the worker and of the topics job: the config dict (empty values left
unset), the credentials by secretKeyRef, and the chart's own paths.
*/}}
{{- define "soccerpredict.env" -}}
{{- $secretKeys := splitList " " (include "soccerpredict.secretKeys" .) -}}
{{- $chartKeys := splitList " " (include "soccerpredict.chartKeys" .) -}}
{{- $protocol := .Values.config.KAFKA_SECURITY_PROTOCOL | default "PLAINTEXT" -}}
{{- if not (has $protocol (list "PLAINTEXT" "SSL" "SASL_PLAINTEXT" "SASL_SSL")) -}}
{{- fail (printf "config.KAFKA_SECURITY_PROTOCOL must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, got %q" $protocol) -}}
{{- end -}}
{{- range $key, $value := .Values.config }}
{{- if has $key $secretKeys }}
{{- fail (printf "config.%s is a credential: put it in the Secret (secrets.existingSecret or secrets.values)" $key) }}
{{- end }}
{{- if has $key $chartKeys }}
{{- fail (printf "config.%s is set by the chart (see tls, features)" $key) }}
{{- end }}
{{- if not (or (kindIs "invalid" $value) (eq (toString $value) "")) }}
- name: {{ $key }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end }}
- name: WEB_HOST
  value: "0.0.0.0"
- name: FEATURES_DIR
  value: {{ .Values.features.mountPath | quote }}
- name: STATE_DIR
  value: /state
{{- $secretName := include "soccerpredict.secretName" . }}
{{- if $secretName }}
{{- $given := .Values.secrets.values | default dict }}
{{- $sasl := eq (include "soccerpredict.kafkaSasl" .) "true" }}
{{- range $key := $secretKeys }}
{{- /* A chart-made Secret holds exactly the given keys; an existing one is read by name,
       required only where the service cannot start without it. */}}
{{- if or $.Values.secrets.existingSecret (hasKey $given $key) }}
{{- $needed := or (eq $key "REDIS_URL") (and $sasl (hasPrefix "KAFKA_SASL_" $key)) }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: {{ $key }}
      optional: {{ not $needed }}
{{- end }}
{{- end }}
{{- end }}
{{- $tls := .Values.tls }}
{{- range $service := list "kafka" "redis" }}
{{- $files := index $tls $service }}
{{- range $field, $name := dict "CAFILE" $files.caFile "CERTFILE" $files.certFile "KEYFILE" $files.keyFile }}
{{- if $name }}
{{- if not $tls.existingSecret }}
{{- fail (printf "tls.%s files need tls.existingSecret" $service) }}
{{- end }}
- name: {{ printf "%s_SSL_%s" (upper $service) $field }}
  value: {{ printf "%s/%s" (trimSuffix "/" $tls.mountPath) $name | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Hardened container security context (the image runs as uid 10001). */}}
{{- define "soccerpredict.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "soccerpredict.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Volumes the worker and the topics job share: scratch space and the TLS files. */}}
{{- define "soccerpredict.scratchVolumes" -}}
- name: state
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- if .Values.tls.existingSecret }}
- name: tls
  secret:
    secretName: {{ .Values.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "soccerpredict.scratchMounts" -}}
- name: state
  mountPath: /state
- name: tmp
  mountPath: /tmp
{{- if .Values.tls.existingSecret }}
- name: tls
  mountPath: {{ .Values.tls.mountPath }}
  readOnly: true
{{- end }}
{{- end -}}
