"""The chart's observability objects: the PrometheusRule (every alert has a runbook section in
docs/operating.md and uses only metrics the services export), the ServiceMonitor, the Grafana
dashboard (valid JSON shipped for Grafana's sidecar, every query on existing metrics), tracing
(Jaeger in the release or a collector of yours, wired into every service's environment) and
link-checker's scaling on lag and CPU."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import helm_python as helm
import pytest
from prometheus_client.metrics import MetricWrapperBase

from delinkcious import metrics
from delinkcious.grpcutil import _SERVER_FAULTS
from tests.deploy.chart import (
    CHART,
    NAMESPACE,
    RELEASE,
    Obj,
    Rendered,
    chart_values,
    pod_labels,
    render,
    render_set,
)
from tests.deploy.contract import SERVICES
from tests.deploy.fit import container_env, secrets_for
from tests.deploy.netpol import Endpoint, Policies
from tests.deploy.test_chart_network import allowed_flows
from tests.deploy.validate import crd_validator

ROOT = Path(__file__).resolve().parents[2]
OPERATING = ROOT / "docs" / "operating.md"
DASHBOARD = CHART / "dashboards" / "delinkcious.json"

# Series that come from elsewhere than the services' own metric definitions, used on purpose:
STANDARD_METRICS = {
    "up",  # Prometheus, per scraped target
    "kube_pod_container_status_restarts_total",  # kube-state-metrics
    "kube_pod_container_resource_requests",  # kube-state-metrics
    "kube_pod_container_resource_limits",  # kube-state-metrics
    "container_cpu_usage_seconds_total",  # cAdvisor (the kubelet)
    "container_memory_working_set_bytes",  # cAdvisor
    "process_open_fds",  # prometheus-client's process collector, in every service
}
EXPECTED_ALERTS = {
    "DelinkciousServiceDown",
    "DelinkciousNoReplicaUp",
    "DelinkciousPodRestarting",
    "DelinkciousHttpErrorRatioHigh",
    "DelinkciousGrpcErrorRatioHigh",
    "DelinkciousHttpLatencyHigh",
    "DelinkciousGrpcLatencyHigh",
    "DelinkciousOutboxBacklogOld",
    "DelinkciousConsumerLagHigh",
    "DelinkciousLinkCheckFailureRatioHigh",
}


# --- what exists -------------------------------------------------------------------------


def exported_series() -> set[str]:
    """Every series name the services' metric objects (pkg/delinkcious/metrics.py) expose:
    counters as <name>_total, histograms as <name>_bucket, _sum and _count."""
    names: set[str] = set()
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        for family in value.describe():
            if family.type == "counter":
                names.add(f"{family.name}_total")
            elif family.type == "histogram":
                names |= {f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count")}
            else:
                names.add(family.name)
    return names


PROMQL_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
}
PROMQL_LITERALS = {"inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not functions, keywords or labels)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\boffset\s+-?\w+", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w$.])[A-Za-z_:][A-Za-z0-9_:]*", text):
        name = match.group(0)
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        if name in PROMQL_KEYWORDS or name.lower() in PROMQL_LITERALS:
            continue
        names.add(name)
    return names


def test_metric_names_reads_metrics_and_nothing_else() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (job, le) (rate(http_server_request_duration_seconds_bucket"
        '{namespace="x", route!~"/healthz|up"}[$__rate_interval]))) > 1e3 and on (job) '
        "max(up offset 5m) unless sum(rate(grpc_server_requests_total[5m])) by (job)"
    )
    assert metric_names(expr) == {
        "http_server_request_duration_seconds_bucket",
        "up",
        "grpc_server_requests_total",
    }
    assert metric_names("sum(rate(made_up_total[5m])) / 0.5") == {"made_up_total"}
    assert metric_names('count(x{a="b{c}"}) > bool Inf') == {"x"}


def test_the_known_metrics_are_the_services_series() -> None:
    series = exported_series()
    for name in (
        "http_server_requests_total",
        "http_server_request_duration_seconds_bucket",
        "http_server_request_duration_seconds_count",
        "grpc_server_requests_total",
        "delinkcious_outbox_oldest_event_age_seconds",
        "delinkcious_consumer_pending_messages",
        "delinkcious_link_checks_total",
    ):
        assert name in series, name
    assert "http_server_requests_total_total" not in series
    assert "http_server_request_duration_seconds" not in series, "a histogram is read by its series"


# --- alerts ------------------------------------------------------------------------------


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings (lower case, punctuation dropped,
    spaces to hyphens, -1, -2 ... for repeats); fenced code is not headings."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        heading = re.match(r"^#{1,6} +(.+?) *#* *$", line)
        if fenced or not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_github_anchors() -> None:
    anchors = github_anchors("# A (b) c\n```\n# not\n```\n## DelinkciousX\n## A (b) c\n")
    assert anchors == {"a-b-c", "delinkciousx", "a-b-c-1"}


def rules(rendered: Rendered) -> list[Obj]:
    rule = rendered.get("PrometheusRule", "delinkcious")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


@pytest.mark.parametrize("value_set", ["all-features", "observability", "canary-istio"])
def test_the_rule_validates_and_holds_every_alert(value_set: str) -> None:
    rendered = render_set(value_set)
    rule = rendered.get("PrometheusRule", "delinkcious")
    crd_validator(rule["apiVersion"], "PrometheusRule").validate(rule)
    alerts = {r["alert"] for r in rules(rendered)}
    assert alerts == EXPECTED_ALERTS
    for alert in rules(rendered):
        assert alert["labels"]["severity"] in ("warning", "critical"), alert["alert"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"], alert["alert"]


def test_every_alert_links_to_its_runbook_section() -> None:
    anchors = github_anchors(OPERATING.read_text())
    base = chart_values()["monitoring"]["runbookBaseUrl"]
    for alert in rules(render_set("all-features")):
        url = alert["annotations"]["runbook_url"]
        page, _, anchor = url.partition("#")
        assert page == base, url
        assert anchor == alert["alert"].lower(), "the anchor is the alert's own heading"
        assert anchor in anchors, f"docs/operating.md has no section #{anchor}"
    custom = rules(render_set("observability"))
    assert all(r["annotations"]["runbook_url"].startswith("https://git.example.com/") for r in custom)


def test_every_runbook_says_what_it_means_how_to_check_and_how_to_fix() -> None:
    text = OPERATING.read_text()
    for alert in EXPECTED_ALERTS:
        match = re.search(rf"^### {alert}\n(.*?)(?=^#{{1,3}} |\Z)", text, flags=re.MULTILINE | re.DOTALL)
        assert match, f"no runbook section for {alert}"
        for part in ("**Means:**", "**Check:**", "**Fix:**"):
            assert part in match.group(1), (alert, part)


def test_every_metric_the_alerts_use_exists() -> None:
    known = exported_series() | STANDARD_METRICS
    used: set[str] = set()
    for alert in rules(render_set("all-features")):
        names = metric_names(alert["expr"])
        assert names, alert["alert"]
        unknown = names - known
        assert not unknown, f"{alert['alert']} reads {unknown}, which no service exports"
        used |= names
    for needed in (
        "http_server_requests_total",
        "grpc_server_requests_total",
        "http_server_request_duration_seconds_bucket",
        "grpc_server_request_duration_seconds_bucket",
        "delinkcious_outbox_oldest_event_age_seconds",
        "delinkcious_consumer_pending_messages",
        "delinkcious_link_checks_total",
        "kube_pod_container_status_restarts_total",
    ):
        assert needed in used, needed


def test_alerts_select_the_releases_services_and_use_the_thresholds() -> None:
    by_name = {r["alert"]: r for r in rules(render_set("observability"))}
    jobs = "|".join(sorted(SERVICES))
    for name in (
        "DelinkciousHttpErrorRatioHigh",
        "DelinkciousGrpcErrorRatioHigh",
        "DelinkciousConsumerLagHigh",
    ):
        assert f'namespace="{NAMESPACE}", job=~"{jobs}"' in by_name[name]["expr"], name
    # Probes and scrapes are not users' requests.
    assert 'route!~"/healthz|/readyz|/metrics"' in by_name["DelinkciousHttpErrorRatioHigh"]["expr"]
    assert by_name["DelinkciousHttpErrorRatioHigh"]["expr"].rstrip().endswith("> 0.02")
    assert by_name["DelinkciousHttpLatencyHigh"]["expr"].rstrip().endswith("> 0.5")
    assert "by (job, track)" in by_name["DelinkciousHttpErrorRatioHigh"]["expr"], "a canary alerts on its own"
    defaults = chart_values()["monitoring"]["alerts"]
    stock = {r["alert"]: r for r in rules(render_set("all-features"))}
    assert stock["DelinkciousOutboxBacklogOld"]["expr"].endswith(
        f"> {defaults['outboxOldestEventAgeSeconds']}"
    )
    assert stock["DelinkciousConsumerLagHigh"]["expr"].endswith(f"> {defaults['consumerLag']}")
    assert stock["DelinkciousPodRestarting"]["expr"].endswith(f"> {defaults['podRestarts']}")
    # The gRPC faults are the codes the server counts as its own failures.
    faults = re.search(r'code=~"([A-Z_|]+)"', by_name["DelinkciousGrpcErrorRatioHigh"]["expr"])
    assert faults and set(faults.group(1).split("|")) == {code.name for code in _SERVER_FAULTS}


def test_the_alert_table_in_the_guide_lists_every_alert() -> None:
    text = OPERATING.read_text()
    listed = set(re.findall(r"^\| \[(Delinkcious\w+)\]\(#", text, flags=re.MULTILINE))
    assert listed == EXPECTED_ALERTS


# --- the ServiceMonitor ----------------------------------------------------------------------


def test_the_service_monitor_scrapes_every_track_and_labels_series_with_it() -> None:
    rendered = render_set("observability")
    monitor = rendered.get("ServiceMonitor", "delinkcious")
    crd_validator(monitor["apiVersion"], "ServiceMonitor").validate(monitor)
    assert monitor["spec"]["podTargetLabels"] == ["track"]
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"
    names = monitor["spec"]["selector"]["matchExpressions"][0]["values"]
    assert sorted(names) == sorted(SERVICES)
    # A preview Service carries its service's name, so the idle colour is scraped as that job.
    blue_green = render(
        {"monitoring": {"enabled": True}, "services": {"link-manager": {"blueGreen": {"enabled": True}}}}
    )
    preview = blue_green.get("Service", "link-manager-preview")
    assert preview["metadata"]["labels"]["app.kubernetes.io/name"] == "link-manager"
    assert {p["name"] for p in preview["spec"]["ports"]} == {monitor["spec"]["endpoints"][0]["port"]}


# --- the dashboard ---------------------------------------------------------------------------


def dashboard_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def shipped_dashboard() -> tuple[Obj, dict[str, Any]]:
    config_map = render_set("observability").get("ConfigMap", "delinkcious-dashboard")
    return config_map, json.loads(config_map["data"]["delinkcious.json"])


def test_the_dashboard_ships_in_a_config_map_for_grafanas_sidecar() -> None:
    config_map, dashboard = shipped_dashboard()
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "Delinkcious"}
    assert dashboard == json.loads(DASHBOARD.read_text()), "the chart's file, unchanged"
    assert not render_set("defaults").has("ConfigMap", "delinkcious-dashboard")
    assert not render_set("all-features").has("ConfigMap", "delinkcious-dashboard"), (
        "dashboards are their own switch"
    )


def test_the_dashboard_is_well_formed() -> None:
    _, dashboard = shipped_dashboard()
    assert dashboard["uid"] == "delinkcious" and dashboard["title"] == "Delinkcious"
    panels = dashboard_panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables == {"datasource", "namespace", "service", "track"}
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval"}
            assert used <= variables, (panel["title"], used - variables)
            assert 'namespace="$namespace"' in target["expr"], panel["title"]
    # Nothing overlaps: each grid cell belongs to one panel.
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        own = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not own & cells, panel["title"]
        cells |= own


def test_every_dashboard_query_reads_existing_metrics() -> None:
    _, dashboard = shipped_dashboard()
    known = exported_series() | STANDARD_METRICS
    queries = [t["expr"] for p in dashboard_panels(dashboard) for t in p.get("targets", [])]
    queries += [v["query"]["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    for query in queries:
        inner = re.sub(r"^label_values\((.*), *\w+\)$", r"\1", query)
        unknown = metric_names(inner) - known
        assert not unknown, f"{query!r} reads {unknown}"


def test_the_dashboard_covers_the_golden_signals_and_the_event_pipeline() -> None:
    _, dashboard = shipped_dashboard()
    used: set[str] = set()
    for panel in dashboard_panels(dashboard):
        for target in panel.get("targets", []):
            used |= metric_names(target["expr"])
    for needed in (
        # traffic, errors, latency, saturation
        "http_server_requests_total",
        "grpc_server_requests_total",
        "http_server_request_duration_seconds_bucket",
        "grpc_server_request_duration_seconds_bucket",
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        # the event pipeline
        "delinkcious_outbox_backlog_events",
        "delinkcious_outbox_oldest_event_age_seconds",
        "delinkcious_events_published_total",
        "delinkcious_events_consumed_total",
        "delinkcious_consumer_pending_messages",
        "delinkcious_news_fanout_followers_bucket",
        "delinkcious_news_fanout_duration_seconds_bucket",
        "delinkcious_link_checks_total",
    ):
        assert needed in used, needed
    titles = {p["title"] for p in dashboard_panels(dashboard)}
    assert {
        "Traffic",
        "Errors",
        "Latency (p99)",
        "Saturation: CPU",
        "Consumer lag",
        "Link checks by result",
    } <= titles


# --- tracing ---------------------------------------------------------------------------------


def service_env(rendered: Rendered) -> dict[str, dict[str, str]]:
    """Deployment name -> the service container's resolved environment, for every track."""
    secrets = secrets_for(rendered)
    out = {}
    for deployment in rendered.of_kind("Deployment"):
        name = pod_labels(deployment)["app.kubernetes.io/name"]
        if name not in SERVICES:
            continue
        [container] = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name]
        out[deployment["metadata"]["name"]] = container_env(rendered, deployment, container, secrets)
    return out


def test_jaeger_in_the_release_receives_every_services_spans() -> None:
    rendered = render_set("observability")
    jaeger = rendered.get("Deployment", f"{RELEASE}-jaeger")
    service = rendered.get("Service", f"{RELEASE}-jaeger")
    assert pod_labels(jaeger)["app.kubernetes.io/name"] == "jaeger"
    [container] = jaeger["spec"]["template"]["spec"]["containers"]
    assert (
        container["image"]
        == "docker.io/jaegertracing/jaeger:" + chart_values()["tracing"]["jaeger"]["image"]["tag"]
    )
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["otlp-http"] == 4318
    assert container["readinessProbe"]["httpGet"] == {"path": "/status", "port": "health"}
    envs = service_env(rendered)
    assert set(envs) == set(SERVICES)
    for name, env in envs.items():
        endpoint = urlparse(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert endpoint.scheme == "http" and endpoint.hostname == f"{RELEASE}-jaeger"
        # The address the services get is the Service's, on its OTLP/HTTP port.
        assert endpoint.hostname == service["metadata"]["name"]
        assert endpoint.port in {p["port"] for p in service["spec"]["ports"]}
        assert endpoint.port == 4318
        assert env["OTEL_SERVICE_NAME"] == name
        assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
        assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.1"
        assert f"service.namespace={NAMESPACE}" in env["OTEL_RESOURCE_ATTRIBUTES"]
        assert "deployment.track=stable" in env["OTEL_RESOURCE_ATTRIBUTES"]


def test_tracing_is_off_by_default_and_tracks_are_told_apart() -> None:
    for env in service_env(render_set("defaults")).values():
        assert not {k for k in env if k.startswith("OTEL_")}
    assert not render_set("defaults").has("Deployment", f"{RELEASE}-jaeger")
    # An external collector; a canary's spans say which version and track made them.
    rendered = render(
        {
            "tracing": {"otlpEndpoint": "http://collector.observability:4318/"},
            "services": {"link-manager": {"canary": {"enabled": True, "image": {"tag": "9.9.9"}}}},
        }
    )
    envs = service_env(rendered)
    assert {e["OTEL_EXPORTER_OTLP_ENDPOINT"] for e in envs.values()} == {
        "http://collector.observability:4318"
    }
    assert envs["link-manager-canary"]["OTEL_SERVICE_NAME"] == "link-manager"
    attributes = dict(
        pair.split("=") for pair in envs["link-manager-canary"]["OTEL_RESOURCE_ATTRIBUTES"].split(",")
    )
    assert attributes == {
        "service.namespace": NAMESPACE,
        "service.version": "9.9.9",
        "deployment.track": "canary",
        "k8s.deployment.name": "link-manager-canary",
    }
    assert not rendered.has("Deployment", f"{RELEASE}-jaeger")


def test_the_chart_refuses_to_be_overridden_on_the_tracing_variables() -> None:
    with pytest.raises(helm.HelmError) as caught:
        render(
            {
                "tracing": {"jaeger": {"enabled": True}},
                "services": {"user-manager": {"env": {"OTEL_SERVICE_NAME": "x"}}},
            }
        )
    assert "OTEL_SERVICE_NAME is set by the chart when tracing is on" in str(caught.value)
    # Without tracing from the chart, a service's own OTEL settings are its business.
    render({"services": {"user-manager": {"env": {"OTEL_SERVICE_NAME": "users"}}}})


def test_only_the_services_reach_jaeger_and_only_its_collector_port() -> None:
    to_jaeger = {f for f in allowed_flows(render_set("observability")) if f[1] == "jaeger"}
    assert to_jaeger == {(name, "jaeger", 4318) for name in SERVICES}


def test_an_external_collector_is_reached_on_its_port_only() -> None:
    rendered = render_set("mesh")
    pols = Policies(rendered.of_kind("NetworkPolicy"), NAMESPACE)
    collector = Endpoint(
        "otel-collector", "observability", {"app.kubernetes.io/name": "otel-collector"}, "10.244.9.8"
    )
    elsewhere = Endpoint("other", "observability", {"app.kubernetes.io/name": "other"}, "10.244.9.9")
    for deployment in rendered.of_kind("Deployment"):
        labels = pod_labels(deployment)
        pod = Endpoint(labels["app.kubernetes.io/name"], NAMESPACE, labels, "10.244.1.1")
        assert pols.allowed(pod, collector, 4318), deployment["metadata"]["name"]
        assert not pols.allowed(pod, collector, 4317)
        assert not pols.allowed(pod, elsewhere, 4318)


# --- scaling ---------------------------------------------------------------------------------


def test_keda_scales_link_checker_on_lag_and_cpu() -> None:
    scaled = render_set("observability").get("ScaledObject", "link-checker")
    crd_validator(scaled["apiVersion"], "ScaledObject").validate(scaled)
    triggers = {t["type"]: t for t in scaled["spec"]["triggers"]}
    assert set(triggers) == {"nats-jetstream", "cpu"}
    assert triggers["cpu"] == {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}}
    lag_only = render_set("all-features").get("ScaledObject", "link-checker")["spec"]["triggers"]
    assert [t["type"] for t in lag_only] == ["nats-jetstream", "cpu"]
    assert lag_only[1]["metadata"]["value"] == str(chart_values()["linkChecker"]["keda"]["cpuUtilization"])
    off = render({"linkChecker": {"keda": {"enabled": True, "cpuUtilization": 0}}}).get(
        "ScaledObject", "link-checker"
    )
    assert [t["type"] for t in off["spec"]["triggers"]] == ["nats-jetstream"]


def comment_above(text: str, line: str) -> str:
    """The comment lines right above the first occurrence of `line` in values.yaml."""
    lines = text.splitlines()
    index = lines.index(line)
    comments: list[str] = []
    while index > 0 and lines[index - 1].lstrip().startswith("#"):
        index -= 1
        comments.insert(0, lines[index].lstrip("# "))
    return " ".join(comments)


def test_values_document_the_scaling_targets() -> None:
    text = (CHART / "values.yaml").read_text()
    hpa = comment_above(text, "  autoscaling:")
    for phrase in (
        "average CPU use as a percentage of their CPU request",
        "70%",
        "maxReplicas",
        "max_connections",
    ):
        assert phrase in hpa, phrase
    keda = comment_above(text[text.index("\nlinkChecker:") :], "  keda:")
    assert "consumer lag" in keda and "on CPU" in keda
    assert "Pending new-link events per replica." in comment_above(text, "    lagThreshold: 20")
