{{/*
Shared pieces of the Delinkcious chart. Every service in .Values.services is rendered by the
same templates; what differs between services is data in values.yaml, not template code.
*/}}

{{/* Merges map .src into map .dst: .src's keys win, nested maps are merged key by key.
Written out rather than sprig's merge, whose handling of false and "" differs between Helm
versions (a service's `enabled: false` must beat a default `true`). */}}
{{- define "delinkcious.mergeInto" -}}
{{- $dst := .dst -}}
{{- range $key, $value := .src -}}
{{- $current := get $dst $key -}}
{{- if and (kindIs "map" $value) (kindIs "map" $current) -}}
{{- include "delinkcious.mergeInto" (dict "dst" $current "src" $value) -}}
{{- else -}}
{{- $_ := set $dst $key (deepCopy $value) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Fills .out with service .name's settings: serviceDefaults, then the service's own. */}}
{{- define "delinkcious.service" -}}
{{- $cfg := get .root.Values.services .name -}}
{{- include "delinkcious.mergeInto" (dict "dst" .out "src" (deepCopy .root.Values.serviceDefaults)) -}}
{{- include "delinkcious.mergeInto" (dict "dst" .out "src" $cfg) -}}
{{- $_ := set .out "name" .name -}}
{{- range $other := concat .out.calls .out.accepts -}}
{{- if not (hasKey $.root.Values.services $other) -}}
{{- fail (printf "services.%s names %s, which is not a service" $.name $other) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* LINK_MANAGER from link-manager: the prefix of a service's environment variables. */}}
{{- define "delinkcious.envName" -}}
{{- . | upper | replace "-" "_" -}}
{{- end -}}

{{- define "delinkcious.secretName" -}}
{{- .Values.secrets.existingSecret | default "delinkcious-secrets" -}}
{{- end -}}

{{- define "delinkcious.imageTag" -}}
{{- .Values.global.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{/* A service's image: <registry>/<service name>:<tag>. Context: dict root, name, and
optionally tag (a track's own; empty: the release's). */}}
{{- define "delinkcious.image" -}}
{{- printf "%s/%s:%s" (.root.Values.global.image.registry | trimSuffix "/") .name (.tag | default (include "delinkcious.imageTag" .root)) -}}
{{- end -}}

{{/* A service's tracks, as a JSON list: the Deployments that run it. Each has deployment
(its name), track (the pods' `track` label), tag (image tag), replicas, scaler ("hpa",
"keda" or "": who owns the replica count) and serving (whether the Service selects it).
  rolling (default)  one track, stable, named like the service
  canary             stable, plus <name>-canary with canary.replicas and its own tag
  blueGreen          <name>-blue and <name>-green; the Service serves the `active` one
Context: dict root, svc. */}}
{{- define "delinkcious.tracks" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $tag := include "delinkcious.imageTag" $root -}}
{{- $autoscaler := "" -}}
{{- if and (eq $svc.name "link-checker") $root.Values.linkChecker.keda.enabled -}}
{{- $autoscaler = "keda" -}}
{{- else if $svc.autoscaling.enabled -}}
{{- $autoscaler = "hpa" -}}
{{- end -}}
{{- $tracks := list -}}
{{- if $svc.blueGreen.enabled -}}
{{- if $svc.canary.enabled -}}
{{- fail (printf "services.%s: blueGreen and canary cannot both be enabled" $svc.name) -}}
{{- end -}}
{{- range $color := list "blue" "green" -}}
{{- $cfg := get $svc.blueGreen $color -}}
{{- $own := hasKey $cfg "replicas" -}}
{{- $tracks = append $tracks (dict
  "deployment" (printf "%s-%s" $svc.name $color)
  "track" $color
  "tag" ($cfg.image.tag | default $tag)
  "replicas" (int (ternary $cfg.replicas $svc.replicas $own))
  "scaler" (ternary "" $autoscaler $own)
  "serving" (eq $svc.blueGreen.active $color)) -}}
{{- end -}}
{{- else -}}
{{- $tracks = append $tracks (dict "deployment" $svc.name "track" "stable" "tag" $tag "replicas" (int $svc.replicas) "scaler" $autoscaler "serving" true) -}}
{{- if $svc.canary.enabled -}}
{{- $tracks = append $tracks (dict
  "deployment" (printf "%s-canary" $svc.name)
  "track" "canary"
  "tag" ($svc.canary.image.tag | default $tag)
  "replicas" (int $svc.canary.replicas)
  "scaler" ""
  "serving" true) -}}
{{- end -}}
{{- end -}}
{{- toJson $tracks -}}
{{- end -}}

{{/* The OTLP/HTTP endpoint the services export spans to: the release's Jaeger, a collector
of yours, or none. */}}
{{- define "delinkcious.otlpEndpoint" -}}
{{- if .Values.tracing.jaeger.enabled -}}
{{- printf "http://%s-jaeger:4318" .Release.Name -}}
{{- else -}}
{{- .Values.tracing.otlpEndpoint | trimSuffix "/" -}}
{{- end -}}
{{- end -}}

{{/* Labels. Context: dict root, name, component, version. */}}
{{- define "delinkcious.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "delinkcious.labels" -}}
{{ include "delinkcious.selectorLabels" . }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: delinkcious
app.kubernetes.io/version: {{ .version | default (include "delinkcious.imageTag" .root) | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Pod security for every workload: non-root, RuntimeDefault seccomp. Context: uid. */}}
{{- define "delinkcious.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "delinkcious.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* The keys of the chart's Secret, as a JSON list, and which of them belong to servers
outside the release (an external Postgres, Redis or NATS), so cannot be made up. */}}
{{- define "delinkcious.secretKeys" -}}
{{- $keys := list -}}
{{- $external := list -}}
{{- $callers := list -}}
{{- range $name, $_ := .Values.services -}}
{{- $svc := dict -}}
{{- include "delinkcious.service" (dict "root" $ "name" $name "out" $svc) -}}
{{- $callers = concat $callers $svc.accepts -}}
{{- if $svc.callerToken }}{{ $callers = append $callers $name }}{{ end -}}
{{- if $svc.pageTokenKey }}{{ $keys = append $keys (printf "page-token-key-%s" $name) }}{{ end -}}
{{- if $svc.sessionSecret }}{{ $keys = append $keys "session-secret" }}{{ end -}}
{{- if $svc.database -}}
{{- $keys = append $keys (printf "db-password-%s" $name) -}}
{{- if not $.Values.postgres.enabled }}{{ $external = append $external (printf "db-password-%s" $name) }}{{ end -}}
{{- end -}}
{{- if $svc.nats -}}
{{- $keys = append $keys "nats-password" -}}
{{- if not $.Values.nats.enabled }}{{ $external = append $external "nats-password" }}{{ end -}}
{{- end -}}
{{- if $svc.redis -}}
{{- $redisKey := include "delinkcious.redisPasswordKey" $svc -}}
{{- $keys = append $keys $redisKey -}}
{{- if $.Values.redis.enabled }}{{ $keys = append $keys "redis-password" }}{{ end -}}
{{- if not $.Values.redis.enabled }}{{ $external = append $external $redisKey }}{{ end -}}
{{- end -}}
{{- end -}}
{{- range $caller := $callers }}{{ $keys = append $keys (printf "caller-token-%s" $caller) }}{{ end -}}
{{- if .Values.postgres.enabled }}{{ $keys = append $keys "postgres-password" }}{{ end -}}
{{- dict "keys" ($keys | uniq | sortAlpha) "external" ($external | uniq | sortAlpha) | toJson -}}
{{- end -}}

{{/* An env entry read from the chart's Secret. Context: dict root, env, key. */}}
{{- define "delinkcious.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "delinkcious.secretName" .root }}
      key: {{ .key }}
{{- end -}}

{{/* Where a service finds Postgres: host:port and the URL's query string. */}}
{{- define "delinkcious.postgresAddress" -}}
{{- if .Values.postgres.enabled -}}
postgres:5432
{{- else -}}
{{- required "postgres.external.host is required when postgres.enabled is false" .Values.postgres.external.host -}}:{{ .Values.postgres.external.port }}
{{- end -}}
{{- end -}}

{{- define "delinkcious.natsUrl" -}}
{{- if .Values.nats.enabled -}}
nats://{{ .Values.nats.user }}:$(NATS_PASSWORD)@nats:4222
{{- else -}}
{{- $url := urlParse (required "nats.external.url is required when nats.enabled is false" .Values.nats.external.url) -}}
{{- printf "%s://%s:$(NATS_PASSWORD)@%s" $url.scheme .Values.nats.user $url.host -}}
{{- end -}}
{{- end -}}

{{/* A service's Redis URL: as the default user, or as its own ACL user (redisAcl set).
Context: dict root, svc. */}}
{{- define "delinkcious.redisUrl" -}}
{{- $user := ternary .svc.name "" (not (empty .svc.redisAcl)) -}}
{{- if .root.Values.redis.enabled -}}
redis://{{ $user }}:$(REDIS_PASSWORD)@redis:6379/0
{{- else -}}
{{- $url := urlParse (required "redis.external.url is required when redis.enabled is false" .root.Values.redis.external.url) -}}
{{- printf "%s://%s:$(REDIS_PASSWORD)@%s%s" $url.scheme $user $url.host ($url.path | default "/0") -}}
{{- end -}}
{{- end -}}

{{/* The Secret key of a service's Redis password: the default user's, or its own. */}}
{{- define "delinkcious.redisPasswordKey" -}}
{{- if .redisAcl }}{{ printf "redis-password-%s" .name }}{{ else }}redis-password{{ end -}}
{{- end -}}

{{/* The services with a Redis user of their own, as a JSON object: name -> ACL rules. */}}
{{- define "delinkcious.redisUsers" -}}
{{- $users := dict -}}
{{- range $name, $_ := .Values.services -}}
{{- $svc := dict -}}
{{- include "delinkcious.service" (dict "root" $ "name" $name "out" $svc) -}}
{{- if and $svc.redis $svc.redisAcl }}{{ $_ := set $users $name $svc.redisAcl }}{{ end -}}
{{- end -}}
{{- toJson $users -}}
{{- end -}}

{{- define "delinkcious.publicUrl" -}}
{{- if .Values.publicUrl -}}
{{- .Values.publicUrl -}}
{{- else if .Values.ingress.enabled -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host -}}
{{- else -}}
http://127.0.0.1:5000
{{- end -}}
{{- end -}}

{{/* Variables the chart sets itself; a service's `env` may not set them. */}}
{{- define "delinkcious.managedEnv" -}}
{{- list "HOST" "PORT" "HTTP_PORT" "LOG_LEVEL" "SHUTDOWN_GRACE_SECONDS" "CALLER_TOKEN" "CALLER_TOKENS" "PAGE_TOKEN_KEY" "SESSION_SECRET" "NATS_URL" "REDIS_URL" "PUBLIC_URL" "GITHUB_CLIENT_ID" "GITHUB_CLIENT_SECRET" "GITHUB_URL" "GITHUB_API_URL" "OIDC_ISSUER" "OIDC_CLIENT_ID" "OIDC_CLIENT_SECRET" | toJson -}}
{{- end -}}

{{/* A service's plain settings: the data of its ConfigMap. Context: dict root, svc. */}}
{{- define "delinkcious.configData" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $managed := include "delinkcious.managedEnv" $root | fromJsonArray -}}
{{- $data := dict -}}
{{- range $key, $value := $svc.env -}}
{{- if or (has $key $managed) (hasSuffix "_DATABASE_URL" $key) -}}
{{- fail (printf "services.%s.env.%s is set by the chart; remove it" $svc.name $key) -}}
{{- end -}}
{{- $_ := set $data $key (toString $value) -}}
{{- end -}}
{{- if not (hasKey $data "LOG_LEVEL") }}{{ $_ := set $data "LOG_LEVEL" $root.Values.global.logLevel }}{{ end -}}
{{- $_ := set $data "HOST" "0.0.0.0" -}}
{{- $_ := set $data "PORT" (toString $svc.port) -}}
{{- if $svc.httpPort }}{{ $_ := set $data "HTTP_PORT" (toString $svc.httpPort) }}{{ end -}}
{{- $_ := set $data "SHUTDOWN_GRACE_SECONDS" (toString $svc.shutdownGraceSeconds) -}}
{{- with include "delinkcious.otlpEndpoint" $root -}}
{{- range $key := list "OTEL_EXPORTER_OTLP_ENDPOINT" "OTEL_SERVICE_NAME" -}}
{{- if hasKey $svc.env $key -}}
{{- fail (printf "services.%s.env.%s is set by the chart when tracing is on; remove it" $svc.name $key) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $data "OTEL_EXPORTER_OTLP_ENDPOINT" . -}}
{{- $_ := set $data "OTEL_SERVICE_NAME" $svc.name -}}
{{- with $root.Values.tracing.sampler }}{{ $_ := set $data "OTEL_TRACES_SAMPLER" . }}{{ end -}}
{{- with $root.Values.tracing.samplerArg }}{{ $_ := set $data "OTEL_TRACES_SAMPLER_ARG" (toString .) }}{{ end -}}
{{- end -}}
{{- range $callee := $svc.calls -}}
{{- $target := get $root.Values.services $callee -}}
{{- if eq ($target.protocol | default "http") "grpc" -}}
{{- $_ := set $data (printf "%s_TARGET" (include "delinkcious.envName" $callee)) (printf "%s:%v" $callee $target.port) -}}
{{- else -}}
{{- $_ := set $data (printf "%s_URL" (include "delinkcious.envName" $callee)) (printf "http://%s:%v" $callee $target.port) -}}
{{- end -}}
{{- end -}}
{{- if $svc.sessionSecret -}}
{{- $_ := set $data "PUBLIC_URL" (include "delinkcious.publicUrl" $root) -}}
{{- with $root.Values.login.github -}}
{{- if .clientId -}}
{{- $_ := set $data "GITHUB_CLIENT_ID" .clientId -}}
{{- $_ := set $data "GITHUB_URL" .url -}}
{{- $_ := set $data "GITHUB_API_URL" .apiUrl -}}
{{- end -}}
{{- end -}}
{{- with $root.Values.login.oidc -}}
{{- if .clientId -}}
{{- $_ := set $data "OIDC_ISSUER" (required "login.oidc.issuer is required with login.oidc.clientId" .issuer) -}}
{{- $_ := set $data "OIDC_CLIENT_ID" .clientId -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $data -}}
{{- end -}}

{{/* A service's secret and composed environment entries, in an order where every $(VAR)
is defined before it is used. Context: dict root, svc. */}}
{{- define "delinkcious.secretEnvs" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- if $svc.callerToken }}
{{ include "delinkcious.secretEnv" (dict "root" $root "env" "CALLER_TOKEN" "key" (printf "caller-token-%s" $svc.name)) }}
{{- end }}
{{- if $svc.accepts }}
{{- $tokens := dict }}
{{- range $caller := $svc.accepts }}
{{- $var := printf "ACCEPTED_CALLER_%s" (include "delinkcious.envName" $caller) }}
{{ include "delinkcious.secretEnv" (dict "root" $root "env" $var "key" (printf "caller-token-%s" $caller)) }}
{{- $_ := set $tokens $caller (printf "$(%s)" $var) }}
{{- end }}
- name: CALLER_TOKENS
  value: {{ $tokens | toJson | quote }}
{{- end }}
{{- if $svc.pageTokenKey }}
{{ include "delinkcious.secretEnv" (dict "root" $root "env" "PAGE_TOKEN_KEY" "key" (printf "page-token-key-%s" $svc.name)) }}
{{- end }}
{{- if $svc.sessionSecret }}
{{ include "delinkcious.secretEnv" (dict "root" $root "env" "SESSION_SECRET" "key" "session-secret") }}
{{- with $root.Values.login.github }}
{{- if .clientId }}
- name: GITHUB_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ required "login.github.clientSecret.name is required with login.github.clientId" .clientSecret.name }}
      key: {{ .clientSecret.key }}
{{- end }}
{{- end }}
{{- with $root.Values.login.oidc }}
{{- if and .clientId .clientSecret.name }}
- name: OIDC_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .clientSecret.name }}
      key: {{ .clientSecret.key }}
{{- end }}
{{- end }}
{{- end }}
{{- with $svc.database }}
{{ include "delinkcious.secretEnv" (dict "root" $root "env" "DATABASE_PASSWORD" "key" (printf "db-password-%s" $svc.name)) }}
- name: {{ include "delinkcious.envName" $svc.name }}_DATABASE_URL
{{- $query := "" }}
{{- if and (not $root.Values.postgres.enabled) $root.Values.postgres.external.params }}{{ $query = printf "?%s" $root.Values.postgres.external.params }}{{ end }}
  value: {{ printf "postgresql://%s:$(DATABASE_PASSWORD)@%s/%s%s" .user (include "delinkcious.postgresAddress" $root) .name $query | quote }}
{{- end }}
{{- if $svc.nats }}
{{ include "delinkcious.secretEnv" (dict "root" $root "env" "NATS_PASSWORD" "key" "nats-password") }}
- name: NATS_URL
  value: {{ include "delinkcious.natsUrl" $root | quote }}
{{- end }}
{{- if $svc.redis }}
{{ include "delinkcious.secretEnv" (dict "root" $root "env" "REDIS_PASSWORD" "key" (include "delinkcious.redisPasswordKey" $svc)) }}
- name: REDIS_URL
  value: {{ include "delinkcious.redisUrl" (dict "root" $root "svc" $svc) | quote }}
{{- end }}
{{- with $svc.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The hash a pod template carries so a changed ConfigMap or Secret rolls the pods.
A Secret of the user's (existingSecret) is not the chart's to watch. */}}
{{- define "delinkcious.secretChecksum" -}}
{{- toJson (list .Values.secrets.values .Values.login) | sha256sum -}}
{{- end -}}
