{{/* The release's base name, at most 63 characters (a DNS label). */}}
{{- define "nodewarden.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nodewarden.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component (controller or agent): pass (list $ "controller"). */}}
{{- define "nodewarden.selector" -}}
{{- $ := index . 0 -}}
app.kubernetes.io/name: {{ $.Chart.Name }}
app.kubernetes.io/instance: {{ $.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "nodewarden.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "nodewarden.controllerName" -}}{{ include "nodewarden.fullname" . }}-controller{{- end -}}
{{- define "nodewarden.agentName" -}}{{ include "nodewarden.fullname" . }}-agent{{- end -}}
{{- define "nodewarden.agentTokenSecret" -}}
{{- default (printf "%s-agent-token" (include "nodewarden.fullname" .)) .Values.tokens.agent.existingSecret -}}
{{- end -}}

{{/*
Controller replicas: the value when set; otherwise 2 with PostgreSQL and 1
with SQLite. Two pods cannot share one SQLite file (WAL needs one host's
shared memory), so more than one replica with SQLite is refused.
*/}}
{{- define "nodewarden.controllerReplicas" -}}
{{- $r := .Values.controller.replicas -}}
{{- if eq .Values.store.type "sqlite" -}}
{{- if and (not (kindIs "invalid" $r)) (gt (int $r) 1) -}}
{{- fail (printf "controller.replicas=%v needs store.type=postgres: two pods cannot share one SQLite file. Set store.type=postgres with store.postgres.existingSecret, or controller.replicas=1." $r) -}}
{{- end -}}
1
{{- else if kindIs "invalid" $r -}}
2
{{- else -}}
{{- int $r -}}
{{- end -}}
{{- end -}}

{{/*
Where the agents push results: the controller Service; with more than one
replica, the Service of the pod labelled leader (only the leader decides, so
only its mesh must see every result).
*/}}
{{- define "nodewarden.controllerUrl" -}}
{{- $svc := include "nodewarden.controllerName" . -}}
{{- if gt (int (include "nodewarden.controllerReplicas" .)) 1 }}{{ $svc = printf "%s-leader" $svc }}{{ end -}}
{{- printf "http://%s.%s.svc:%v" $svc .Release.Namespace .Values.controller.port -}}
{{- end -}}
