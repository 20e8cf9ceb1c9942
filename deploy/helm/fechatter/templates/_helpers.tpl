{{- define "fechatter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fechatter.fullname" -}}
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

{{- define "fechatter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fechatter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "fechatter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "fechatter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fechatter
{{- end }}

{{- define "fechatter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fechatter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "fechatter.image" -}}
{{ printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* shutdownSeconds: config.shutdownTimeout ("25s") in whole seconds. */}}
{{- define "fechatter.shutdownSeconds" -}}
{{- $t := toString .Values.config.shutdownTimeout }}
{{- if not (regexMatch "^[0-9]+s$" $t) }}
{{- fail (printf "config.shutdownTimeout must be whole seconds like \"25s\", got %q" $t) }}
{{- end }}
{{- trimSuffix "s" $t }}
{{- end }}

{{/* The server's environment: settings, then secrets by reference. */}}
{{- define "fechatter.env" -}}
- name: FECHATTER_PROFILE
  value: {{ .Values.config.profile | quote }}
- name: FECHATTER_HTTP_ADDR
  value: "0.0.0.0:8080"
- name: FECHATTER_DATA_DIR
  value: /var/lib/fechatter
- name: FECHATTER_HTTP_SHUTDOWN_TIMEOUT
  value: {{ .Values.config.shutdownTimeout | quote }}
- name: FECHATTER_DATABASE_MAX_OPEN_CONNS
  value: {{ .Values.config.databaseMaxOpenConns | quote }}
- name: FECHATTER_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: NATS_URL
  value: {{ required "config.natsUrl is required" .Values.config.natsUrl | quote }}
- name: FECHATTER_NATS_REPLICAS
  value: {{ .Values.config.natsReplicas | default 1 | quote }}
- name: MEILI_URL
  value: {{ required "config.meiliUrl is required" .Values.config.meiliUrl | quote }}
{{- range $k, $v := .Values.config.extraEnv }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "secrets.databaseUrl.name is required" .Values.secrets.databaseUrl.name }}
      key: {{ required "secrets.databaseUrl.key is required" .Values.secrets.databaseUrl.key }}
- name: FECHATTER_JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ required "secrets.jwtSecret.name is required" .Values.secrets.jwtSecret.name }}
      key: {{ required "secrets.jwtSecret.key is required" .Values.secrets.jwtSecret.key }}
- name: MEILI_MASTER_KEY
  valueFrom:
    secretKeyRef:
      name: {{ required "secrets.meiliKey.name is required" .Values.secrets.meiliKey.name }}
      key: {{ required "secrets.meiliKey.key is required" .Values.secrets.meiliKey.key }}
{{- with .Values.secrets.s3 }}
{{- if .name }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .accessKeyIdKey | default "access-key-id" }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .secretAccessKeyKey | default "secret-access-key" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The writable places of a read-only root filesystem. */}}
{{- define "fechatter.volumes" -}}
- name: data
  emptyDir:
    sizeLimit: 1Gi
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end }}

{{- define "fechatter.volumeMounts" -}}
- name: data
  mountPath: /var/lib/fechatter
- name: tmp
  mountPath: /tmp
{{- end }}
