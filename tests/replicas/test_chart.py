"""The chart runs several gateway replicas, each reaching Redis as the gateway's own
user, whose rules are the ones the Redis server is started with."""

from __future__ import annotations

import shlex

from tests.deploy.chart import chart_values, containers, render_set


def test_two_gateway_replicas_by_default_sharing_redis_as_their_own_user() -> None:
    rendered = render_set("defaults")
    gateway = rendered.get("Deployment", "api-gateway")
    assert gateway["spec"]["replicas"] == 2
    env = {e["name"]: e for c in containers(gateway) for e in c.get("env", [])}
    assert env["REDIS_URL"]["value"] == "redis://api-gateway:$(REDIS_PASSWORD)@redis:6379/0"
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "redis-password-api-gateway"

    [redis] = containers(rendered.get("StatefulSet", "redis"))
    argv = shlex.split(redis["command"][2])
    user = argv[argv.index("--user") + 1 :]
    rules = chart_values()["services"]["api-gateway"]["redisAcl"].split()
    assert user == ["api-gateway", "on", ">$REDIS_PASSWORD_API_GATEWAY", "resetkeys", "resetchannels", *rules]
    assert "~gw:*" in rules and "&gw:*" in rules and "-@all" in rules  # nothing beyond its prefix
    redis_env = {e["name"]: e for e in redis["env"]}
    assert redis_env["REDIS_PASSWORD_API_GATEWAY"]["valueFrom"]["secretKeyRef"]["key"] == (
        "redis-password-api-gateway"
    )
