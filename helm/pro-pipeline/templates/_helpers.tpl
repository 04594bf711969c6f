{{/* The release's full name: the release name, with the chart name added unless it contains it. */}}
{{- define "pro-pipeline.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pro-pipeline.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "pro-pipeline.labels" -}}
{{ include "pro-pipeline.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: pro-pipeline
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "pro-pipeline.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pro-pipeline.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "pro-pipeline.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "pro-pipeline.namespaces" -}}
{{- if and (eq .Values.scope "namespaces") (not .Values.watchNamespaces) -}}
{{- fail "scope \"namespaces\" needs at least one namespace in watchNamespaces" -}}
{{- end -}}
{{- end -}}

{{/*
The operator's rules: exactly operator/pro_operator/rbac.py (NAMESPACED_RULES, then CLUSTER_RULES
cluster-wide); tests/helm compares the rendered Role/ClusterRole with it.
*/}}
{{- define "pro-pipeline.namespacedRules" -}}
- apiGroups: ["pro.alignment.dev"]
  resources: ["alignmentpipelines", "rewardmodeltrainings", "adaptertrainings", "policyalignments", "policyevaluations", "alignmentschedules"]
  verbs: ["list", "watch"]
- apiGroups: ["pro.alignment.dev"]
  resources: ["rewardmodeltrainings", "adaptertrainings", "policyalignments", "policyevaluations"]
  verbs: ["create", "update"]
- apiGroups: ["pro.alignment.dev"]
  resources: ["alignmentpipelines"]
  verbs: ["create", "delete"]
- apiGroups: ["pro.alignment.dev"]
  resources: ["alignmentpipelines/status", "rewardmodeltrainings/status", "adaptertrainings/status", "policyalignments/status", "policyevaluations/status", "alignmentschedules/status"]
  verbs: ["patch"]
- apiGroups: ["kubeflow.org"]
  resources: ["pytorchjobs"]
  verbs: ["list", "watch", "create", "patch", "get"]
- apiGroups: ["trainer.kubeflow.org"]
  resources: ["trainjobs"]
  verbs: ["list", "watch", "create", "patch", "get"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create", "get", "patch"]
- apiGroups: ["trainer.kubeflow.org"]
  resources: ["trainingruntimes"]
  verbs: ["list"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end -}}

{{- define "pro-pipeline.clusterRules" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
- apiGroups: ["trainer.kubeflow.org"]
  resources: ["clustertrainingruntimes"]
  verbs: ["list"]
{{- end -}}

{{/* The leader election's Role in the release namespace: exactly ELECTION_RULES of rbac.py. */}}
{{- define "pro-pipeline.electionRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "update"]
{{- end -}}

{{- define "pro-pipeline.leaseName" -}}
{{- printf "%s-leader" (include "pro-pipeline.fullname" .) -}}
{{- end -}}

{{/* Replicas and leader election that could let two operators act at once fail the install. */}}
{{- define "pro-pipeline.leaderElection" -}}
{{- $le := .Values.leaderElection -}}
{{- if and (gt (int .Values.replicaCount) 1) (not $le.enabled) -}}
{{- fail (printf "replicaCount %d needs leaderElection.enabled: without it the replicas would act side by side" (int .Values.replicaCount)) -}}
{{- end -}}
{{- if $le.enabled -}}
{{- if le (float64 $le.leaseDuration) (float64 $le.renewDeadline) -}}
{{- fail (printf "leaderElection.leaseDuration (%v) must be greater than leaderElection.renewDeadline (%v): the leader must stop before a standby may start" $le.leaseDuration $le.renewDeadline) -}}
{{- end -}}
{{- if le (float64 $le.renewDeadline) (mulf 1.2 $le.retryPeriod) -}}
{{- fail (printf "leaderElection.renewDeadline (%v) must be greater than 1.2 × leaderElection.retryPeriod (%v)" $le.renewDeadline $le.retryPeriod) -}}
{{- end -}}
{{- end -}}
{{- end -}}
