{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "sagemaker-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name of the release's objects. */}}
{{- define "sagemaker-operator.fullname" -}}
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

{{- define "sagemaker-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sagemaker-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sagemaker-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sagemaker-operator.labels" -}}
helm.sh/chart: {{ include "sagemaker-operator.chart" . }}
{{ include "sagemaker-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sagemaker-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "sagemaker-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sagemaker-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: a digest wins over a tag; the tag defaults to the chart's appVersion. */}}
{{- define "sagemaker-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The operator's RBAC rules: exactly the API calls `sagemaker-operator run` makes, nothing more.
  - list, watch on its three kinds: kopf's watch streams (it never GETs single objects, never lists CRDs or
    namespaces: resource scanning is off and only exact namespace names are watched);
  - patch on its kinds: the JSON patch of metadata.finalizers (the operator never writes spec);
  - patch on their status subresource: the merge patch of status;
  - create on core events: the events it posts (kopf's own event posting is off).
Shared by the ClusterRole (all namespaces) and the per-namespace Roles (watchNamespaces).
*/}}
{{- define "sagemaker-operator.rules" -}}
- apiGroups: ["sagemaker.operator.dev"]
  resources: ["sagemakermodels", "sagemakerendpointconfigs", "sagemakerendpoints", "sagemakerinferencecomponents",
              "sagemakertransformjobs"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["sagemaker.operator.dev"]
  resources: ["sagemakermodels/status", "sagemakerendpointconfigs/status", "sagemakerendpoints/status",
              "sagemakerinferencecomponents/status", "sagemakertransformjobs/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}

{{/* The Lease of the leader election: leaderElection.id, else the release's full name (one lease per release). */}}
{{- define "sagemaker-operator.leaseName" -}}
{{- default (include "sagemaker-operator.fullname" .) .Values.leaderElection.id }}
{{- end }}
