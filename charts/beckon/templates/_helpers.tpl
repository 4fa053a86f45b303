{{- define "beckon.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "beckon.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "beckon.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The BECKON_* connection environment shared by every workload. */}}
{{- define "beckon.kafkaEnv" -}}
- name: BECKON_BROKERS
  value: {{ .Values.kafka.brokers | quote }}
- name: BECKON_CLIENT_ID
  value: {{ .Values.kafka.clientID | quote }}
- name: BECKON_TOPIC_PREFIX
  value: {{ .Values.kafka.topicPrefix | quote }}
{{- if .Values.kafka.tls.enabled }}
- name: BECKON_TLS
  value: "true"
{{- if .Values.kafka.tls.secretName }}
- name: BECKON_TLS_CA_FILE
  value: /etc/beckon/tls/ca.pem
{{- if .Values.kafka.tls.clientCert }}
- name: BECKON_TLS_CERT_FILE
  value: /etc/beckon/tls/client.pem
- name: BECKON_TLS_KEY_FILE
  value: /etc/beckon/tls/client-key.pem
{{- end }}
{{- end }}
{{- if .Values.kafka.tls.serverName }}
- name: BECKON_TLS_SERVER_NAME
  value: {{ .Values.kafka.tls.serverName | quote }}
{{- end }}
{{- end }}
{{- if .Values.kafka.sasl.mechanism }}
- name: BECKON_SASL_MECHANISM
  value: {{ .Values.kafka.sasl.mechanism | quote }}
- name: BECKON_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ required "kafka.sasl.secretName is required with a SASL mechanism" .Values.kafka.sasl.secretName }}
      key: username
- name: BECKON_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.kafka.sasl.secretName }}
      key: password
{{- end }}
{{- if .Values.kafka.schemaRegistry.url }}
- name: BECKON_SCHEMA_REGISTRY_URL
  value: {{ .Values.kafka.schemaRegistry.url | quote }}
{{- end }}
{{- end -}}
