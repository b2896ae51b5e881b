{{- define "kafscale.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kafscale.labels" -}}
app.kubernetes.io/name: kafscale
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: kafscale
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "kafscale.selectorLabels" -}}
app.kubernetes.io/name: kafscale
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "kafscale.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kafscale.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Rules on the resources a KafScaleCluster owns and the custom resources themselves. */}}
{{- define "kafscale.managerRules" -}}
- apiGroups: [kafscale.io]
  resources: [kafscaleclusters, kafscaletopics]
  verbs: [get, list, watch, update, patch]
- apiGroups: [kafscale.io]
  resources: [kafscaleclusters/status, kafscaletopics/status]
  verbs: [get, update, patch]
- apiGroups: [kafscale.io]
  resources: [kafscaleclusters/finalizers, kafscaletopics/finalizers]
  verbs: [update]
- apiGroups: ['']
  resources: [configmaps, secrets, services, serviceaccounts]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [apps]
  resources: [deployments, statefulsets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [batch]
  resources: [cronjobs]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch]
- apiGroups: ['', events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
