{{- define "gavel.name" -}}gavel{{- end -}}

{{- define "gavel.labels" -}}
app.kubernetes.io/part-of: gavel
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "gavel.operatorImage" -}}
{{ .Values.operator.image.repository }}:{{ .Values.operator.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "gavel.runnerImage" -}}
{{ .Values.runner.image.repository }}:{{ .Values.runner.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* A family image (runner-native, runner-jvm, …): runner.familyImages.FAMILY, or else the runner's
repository with -FAMILY and its tag. Called with (dict "root" $ "family" NAME). */}}
{{- define "gavel.familyImage" -}}
{{- $r := .root.Values.runner -}}
{{- index ($r.familyImages | default dict) .family | default (printf "%s-%s:%s" $r.image.repository .family ($r.image.tag | default .root.Chart.AppVersion)) -}}
{{- end -}}

{{- define "gavel.minioImage" -}}
{{ .Values.storage.bundled.image.repository }}:{{ .Values.storage.bundled.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "gavel.minioHost" -}}
{{ .Release.Name }}-minio.{{ .Release.Namespace }}.svc.cluster.local:9000
{{- end -}}

{{/* The operator's storage endpoint: set, or the bundled MinIO's Service. */}}
{{- define "gavel.storageEndpoint" -}}
{{- if .Values.storage.endpoint -}}{{ .Values.storage.endpoint }}
{{- else if .Values.storage.bundled.enabled -}}{{ include "gavel.minioHost" . }}
{{- else -}}{{ fail "storage.endpoint is required unless storage.bundled.enabled" }}
{{- end -}}
{{- end -}}

{{- define "gavel.storageSecret" -}}
{{- if .Values.storage.existingSecret -}}{{ .Values.storage.existingSecret }}
{{- else if .Values.storage.bundled.enabled -}}{{ .Release.Name }}-minio
{{- else -}}{{ fail "storage.existingSecret is required unless storage.bundled.enabled" }}
{{- end -}}
{{- end -}}

{{/* Egress to storage: DNS, the bundled MinIO, and storage.egress (a JSON list of rules). */}}
{{- define "gavel.storageEgress" -}}
{{- $rules := list (dict "to" (list (dict "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" "kube-system")))) "ports" (list (dict "port" 53 "protocol" "UDP") (dict "port" 53 "protocol" "TCP"))) -}}
{{- if .Values.storage.bundled.enabled -}}
{{- $rules = append $rules (dict "to" (list (dict "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" .Release.Namespace)) "podSelector" (dict "matchLabels" (dict "app.kubernetes.io/name" "gavel-minio" "app.kubernetes.io/instance" .Release.Name)))) "ports" (list (dict "port" 9000 "protocol" "TCP"))) -}}
{{- end -}}
{{- range .Values.storage.egress }}{{ $rules = append $rules . }}{{ end -}}
{{- toJson $rules -}}
{{- end -}}

{{/* Egress of runner pods: storage, the node cache's port on the cache pods, and what the values add. */}}
{{- define "gavel.runnerEgress" -}}
{{- $rules := include "gavel.storageEgress" . | fromJsonArray -}}
{{- if .Values.cache.enabled -}}
{{- $rules = append $rules (dict "to" (list (dict "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" .Release.Namespace)) "podSelector" (dict "matchLabels" (dict "app.kubernetes.io/name" "gavel-cache" "app.kubernetes.io/instance" .Release.Name)))) "ports" (list (dict "port" (int .Values.cache.port) "protocol" "TCP"))) -}}
{{- end -}}
{{- range .Values.runner.extraEgress }}{{ $rules = append $rules . }}{{ end -}}
{{- toJson $rules -}}
{{- end -}}

{{/* The storage endpoint as runner pods (and the node cache) reach it: presigned URLs name it. */}}
{{- define "gavel.podStorageEndpoint" -}}
{{ .Values.storage.podEndpoint | default (include "gavel.storageEndpoint" .) }}
{{- end -}}

{{- define "gavel.cacheUrl" -}}
http://{{ .Release.Name }}-cache.{{ .Release.Namespace }}.svc.cluster.local:{{ .Values.cache.port }}
{{- end -}}
