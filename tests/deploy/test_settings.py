"""Flags a user gets wrong are refused before anything is drawn, in one line that never shows a secret."""

from __future__ import annotations

from typing import Any

import pytest

from cogkit.deploy import DeploySettings, QueueSettings, SecretKey, Target
from cogkit.deploy.settings import name_from_repository
from cogkit.errors import UsageError
from tests.deploy.conftest import facts, rendered

PASSWORD = "hunter2-sekr3t"


def refused(**settings: Any) -> UsageError:
    with pytest.raises(UsageError) as caught:
        DeploySettings(**settings)
    return caught.value


def test_queue_url_fields() -> None:
    queue = QueueSettings.parse("redis://redis.ml.svc/3?stream=jobs")
    assert (queue.host, queue.port, queue.database, queue.stream, queue.group) == (
        "redis.ml.svc",
        6379,
        3,
        "jobs",
        "cogkit",
    )
    assert not queue.tls and queue.username is None
    assert queue.container_url() == "redis://redis.ml.svc:6379/3?stream=jobs"
    tls = QueueSettings.parse("rediss://me%40corp@[fd00::1]:7000?stream=s&group=g&claim_idle=60")
    assert (tls.tls, tls.host, tls.port, tls.database, tls.group, tls.username) == (
        True,
        "fd00::1",
        7000,
        0,
        "g",
        "me@corp",
    )
    assert tls.address == "[fd00::1]:7000"
    assert tls.container_url() == "rediss://me%40corp@[fd00::1]:7000/0?stream=s&group=g&claim_idle=60"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://redis:6379/0?stream=a", "scheme"),
        ("redis://:6379/0?stream=a", "no host"),
        ("redis://redis:99999/0?stream=a", "port"),
        ("redis://redis:6379/zero?stream=a", "database"),
        ("redis://redis:6379/0", "stream"),
        ("redis://redis:6379/0?stream=", "stream"),
    ],
)
def test_bad_queue_urls(url: str, complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint) as caught:
        QueueSettings.parse(url)
    assert "redis://[user@]HOST:PORT/DB?stream=NAME" in str(caught.value)


def test_a_password_in_the_url_is_refused_and_never_shown() -> None:
    url = f"redis://worker:{PASSWORD}@redis:6379/0?stream=jobs"
    with pytest.raises(UsageError) as caught:
        QueueSettings.parse(url)
    text = str(caught.value)
    assert PASSWORD not in text
    assert "redis://worker:***@redis:6379/0?stream=jobs" in text
    assert "--queue-password-secret" in text and "kubectl create secret" in text
    with pytest.raises(UsageError) as caught:
        QueueSettings.parse(url, password_secret=SecretKey("redis-auth"))
    assert PASSWORD not in str(caught.value)
    # A password that is itself not a valid URL part still never leaks.
    with pytest.raises(UsageError) as caught:
        QueueSettings.parse(f"redis://:{PASSWORD}@redis:notaport/0?stream=jobs")
    assert PASSWORD not in str(caught.value)


def test_password_never_reaches_the_manifests() -> None:
    queue = QueueSettings.parse(
        "redis://worker@redis:6379/0?stream=jobs", password_secret=SecretKey("redis-auth")
    )
    text = rendered(facts(), queue=queue).to_yaml()
    assert "$(COGKIT_QUEUE_PASSWORD)" in text and PASSWORD not in text


@pytest.mark.parametrize(
    ("text", "name", "key"), [("redis-auth", "redis-auth", "password"), ("a.b:token", "a.b", "token")]
)
def test_secret_key(text: str, name: str, key: str) -> None:
    assert SecretKey.parse(text) == SecretKey(name, key)


@pytest.mark.parametrize("bad", ["", "Redis", "a:", "a:b c", "-a", "a/b"])
def test_bad_secret_key(bad: str) -> None:
    with pytest.raises(UsageError, match="NAME:KEY"):
        SecretKey.parse(bad)


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"name": "My_Model"}, "--name 'My_Model' is not a valid Kubernetes name"),
        ({"name": "9lives"}, "starting with a letter"),
        ({"namespace": "ML"}, "--namespace 'ML'"),
        ({"memory": "16GB"}, "16Gi (not 16GB)"),
        ({"cpu": "two"}, "--cpu 'two' is not a Kubernetes quantity"),
        ({"image_pull_secrets": ("Bad Secret",)}, "--image-pull-secret 'Bad Secret'"),
        ({"replicas": 2, "min_replicas": 1}, "cannot be used together"),
        ({"replicas": 2, "target": Target.KNATIVE}, "always autoscales"),
        ({"min_replicas": 4, "max_replicas": 2}, "--max-replicas 2 is below --min-replicas 4"),
        ({"min_replicas": 0}, "needs something to wake a replica up"),
        ({"prometheus": "prometheus:9090"}, "not an http(s) URL"),
        ({"target_utilization": 1.5}, "at most 1"),
        (
            {"target": Target.KNATIVE, "queue": QueueSettings.parse("redis://r:6379/0?stream=s")},
            "it scales on HTTP requests",
        ),
    ],
)
def test_refusals_name_the_flag_and_the_fix(settings: dict[str, Any], complaint: str) -> None:
    error = refused(**settings)
    assert complaint in str(error)
    assert error.hint
    assert error.exit_code == 2


def test_scale_to_zero_where_the_mode_allows_it() -> None:
    queue = QueueSettings.parse("redis://r:6379/0?stream=s")
    assert DeploySettings(queue=queue).minimum == 0
    assert DeploySettings(target=Target.KNATIVE).minimum == 0
    assert DeploySettings(target=Target.KSERVE).minimum == 0
    assert DeploySettings(prometheus="http://p:9090").minimum == 1
    assert DeploySettings(replicas=3).minimum == 1  # fixed: no autoscaler, the check does not apply


def test_http_autoscaling_needs_prometheus() -> None:
    """Refused with the flags, before any registry is asked."""
    error = refused()
    assert "--prometheus" in str(error) and "--replicas N" in str(error)
    assert DeploySettings(replicas=1) and DeploySettings(queue=QueueSettings.parse("redis://r/0?stream=s"))


@pytest.mark.parametrize(
    ("repository", "name"),
    [
        ("acme/sdxl-turbo", "sdxl-turbo"),
        ("library/My_Model.v2", "my-model-v2"),
        ("me/2024-model", "model-2024-model"),
        ("me/" + "x" * 80, "x" * 63),
        ("me/__", "model"),
    ],
)
def test_names_from_repositories(repository: str, name: str) -> None:
    assert name_from_repository(repository) == name
    DeploySettings(name=name, replicas=1)  # always a valid name


def test_notes_say_what_the_labels_did_not() -> None:
    notes = rendered(facts(), replicas=1).notes
    assert any("--concurrency N" in note for note in notes)
    assert not rendered(facts(concurrency=2), replicas=1).notes
    assert rendered(facts(), replicas=1, concurrency=3).plan.concurrency == 3
    loopback = QueueSettings.parse("redis://127.0.0.1:6379/0?stream=s")
    assert any("the pod itself" in note for note in rendered(facts(concurrency=1), queue=loopback).notes)
    unscoped = rendered(facts(concurrency=1), prometheus="http://p:9090").notes
    assert any("every namespace" in note for note in unscoped)
