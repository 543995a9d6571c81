"""The Helm chart (deploy/helm/soccerpredict): lint, render, validate, and what it promises.

Needs the ``helm`` binary, which ``scripts/bootstrap.sh`` builds with ``go install``; a
missing one fails these tests (``tests.tools.require_tool``). No Kafka, Redis or cluster is
involved: ``helm template`` renders the manifests offline.

How the rendered manifests are checked:

- **Built-in kinds** (Deployment, Service, Job, CronJob, Secret, PodDisruptionBudget) go through
  ``kubernetes-validate`` in strict mode (unknown fields are errors), for the oldest
  Kubernetes the chart supports (its ``kubeVersion`` floor) and the one this helm was built
  against. ``kubernetes-validate`` only ships schemas of built-in kinds: for any other kind
  it raises ``SchemaNotFoundError``, which its command line prints as a warning and passes.
  Here that error fails the test, so nothing slips through unchecked.
- **Custom resources** (KEDA's ScaledObject and TriggerAuthentication, keda.sh/v1alpha1;
  the Prometheus Operator's ServiceMonitor and PrometheusRule, monitoring.coreos.com/v1)
  are checked against the published CRDs vendored in ``tests/vendored/`` (versions and
  sources in its README): each CRD's ``openAPIV3Schema`` as JSON Schema, strict like
  ``kubectl --validate=strict``, with ``metadata`` resolved against the Kubernetes
  ``ObjectMeta`` that ``kubernetes-validate`` ships. The CRD types a KEDA trigger's
  metadata only as a map of strings, so its keys and values are also checked against the
  parameters of KEDA's Kafka scaler, read from that scaler's vendored source.

``helm template`` is given ``--kube-version`` explicitly: a helm built by ``go install``
lacks the release build's linker flags and would otherwise assume Kubernetes v1.20.
"""

from __future__ import annotations

import base64
import copy
import importlib.resources
import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import referencing
import yaml

from models.cli import build_parser as models_parser
from streams.settings import Settings
from tests.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "soccerpredict"
PRODUCTION_VALUES = CHART / "values-production.yaml"
RELEASE = "soccerpredict"
NAMESPACE = "soccerpredict"
FULLNAME = "soccerpredict"  # the release name contains the chart name

#: The chart's kubeVersion floor, and the Kubernetes of helm 3.19's client-go.
KUBE_VERSIONS = ("1.27.0", "1.34.0")

#: The credentials: always from a Secret, never a plain ``value:``.
SECRET_VARIABLES = frozenset(
    {
        "KAFKA_SASL_USERNAME",
        "KAFKA_SASL_PASSWORD",
        "REDIS_URL",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "ADMIN_TOKEN",
        "MLFLOW_WEBHOOK_SECRET",
    }
)

#: Variables the contract's "Additions" fix (and ``streams topics`` needs) that
#: streams/settings.py may not have yet; with the Settings fields, every name the chart
#: may set.
CONTRACT_ADDITIONS = frozenset(
    {
        "KAFKA_SECURITY_PROTOCOL",
        "KAFKA_SASL_MECHANISM",
        "KAFKA_SASL_USERNAME",
        "KAFKA_SASL_PASSWORD",
        "KAFKA_SSL_CAFILE",
        "KAFKA_SSL_CERTFILE",
        "KAFKA_SSL_KEYFILE",
        "KAFKA_SSL_CHECK_HOSTNAME",
        "KAFKA_STARTUP_TIMEOUT_SECONDS",
        "REDIS_SSL_CAFILE",
        "REDIS_SSL_CERTFILE",
        "REDIS_SSL_KEYFILE",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "STALL_SECONDS",
        "STALL_ACTION",
        "TOPIC_REPLICATION_FACTOR",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    }
)
KNOWN_VARIABLES = CONTRACT_ADDITIONS | {name.upper() for name in Settings.model_fields}

#: Every template path: development defaults, the production-like file, and a dev install
#: with a chart-made Secret, SASL over plain TCP, mutual TLS files and a features init.
VARIANTS: dict[str, tuple[str, ...]] = {
    "default": (),
    "production": ("-f", str(PRODUCTION_VALUES)),
    "dev-everything": (
        "--set",
        "config.KAFKA_SECURITY_PROTOCOL=SASL_SSL,config.KAFKA_SASL_MECHANISM=PLAIN",
        "--set",
        "secrets.values.KAFKA_SASL_USERNAME=dev,secrets.values.KAFKA_SASL_PASSWORD=dev-pw",
        "--set",
        "secrets.values.REDIS_URL=redis://redis:6379/0",
        "--set",
        "tls.existingSecret=dev-tls,tls.kafka.caFile=ca.crt,tls.kafka.certFile=tls.crt,"
        "tls.kafka.keyFile=tls.key",
        "--set",
        "features.init.enabled=true,features.init.image=busybox:1.36",
        "--set-json",
        'features.init.command=["sh","-c","cp /seed/* $FEATURES_DIR/"]',
        "--set",
        "autoscaling.enabled=true,serviceMonitor.enabled=true",
    ),
}
#: The optional PrometheusRule (off in the others): the alerts of deploy/prometheus/alerts.yml.
VARIANTS["prometheus-rule"] = (
    "--set",
    "prometheusRule.enabled=true,prometheusRule.labels.release=kube-prometheus-stack",
)
#: The optional retraining CronJob (off in the others): on the production-like install with
#: the base data from a claim, and on a development install with synthetic base data.
RETRAIN_CLAIM = "soccerpredict-results-data"
VARIANTS["retrain"] = (
    "-f",
    str(PRODUCTION_VALUES),
    "--set",
    f"retrain.enabled=true,retrain.data.existingClaim={RETRAIN_CLAIM}",
    "--set-json",
    'retrain.extraArgs=["--holdout-from","2025-01-01"]',
)
VARIANTS["retrain-dev"] = ("--set", "retrain.enabled=true")

BUILT_IN_KINDS = frozenset(
    {"Deployment", "Service", "Job", "CronJob", "Secret", "PodDisruptionBudget"}
)
#: The kinds that run pods of the worker image.
POD_KINDS = frozenset({"Deployment", "Job", "CronJob"})

VENDORED = ROOT / "tests" / "vendored"
#: Kind -> its published CRD (versions and sources: tests/vendored/README.md).
CRD_FILES = {
    "ScaledObject": VENDORED / "keda.sh_scaledobjects.yaml",
    "TriggerAuthentication": VENDORED / "keda.sh_triggerauthentications.yaml",
    "ServiceMonitor": VENDORED / "monitoring.coreos.com_servicemonitors.yaml",
    "PrometheusRule": VENDORED / "monitoring.coreos.com_prometheusrules.yaml",
}
#: KEDA's Kafka scaler, whose struct tags list the trigger's parameters.
KAFKA_SCALER = VENDORED / "kafka_scaler.go"

K8S_DEFS = "https://kubernetes.io/api/_definitions.json"
OBJECT_META = {"$ref": K8S_DEFS + "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}


def strict_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A CRD's OpenAPI v3 schema as JSON Schema, applied as the API server applies it with
    strict field validation (``kubectl --validate=strict``): an unknown field is an error
    wherever the CRD lists the fields and does not say to keep unknown ones.

    ``nullable`` becomes a ``null`` type and ``x-kubernetes-int-or-string`` an integer or
    string; the other ``x-kubernetes-*`` keys only steer server-side merging, listing and
    CEL rules (``x-kubernetes-validations``, not evaluated here) and are dropped.
    """
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key in {"properties", "patternProperties"}:  # field name -> schema
            converted[key] = {name: strict_json_schema(sub) for name, sub in value.items()}
        elif key in {"items", "additionalProperties", "not"} and isinstance(value, dict):
            converted[key] = strict_json_schema(value)
        elif key in {"allOf", "anyOf", "oneOf"}:
            converted[key] = [strict_json_schema(sub) for sub in value]
        elif not key.startswith("x-kubernetes-") and key != "nullable":
            converted[key] = value
    if schema.get("x-kubernetes-int-or-string"):
        converted["type"] = ["integer", "string"]
    if schema.get("nullable") and "type" in converted:
        types = converted["type"] if isinstance(converted["type"], list) else [converted["type"]]
        converted["type"] = [*types, "null"]
    if (
        "properties" in converted
        and "additionalProperties" not in converted
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        converted["additionalProperties"] = False
    return converted


@cache
def crd_schema(kind: str, api_version: str) -> dict[str, Any]:
    """The JSON Schema of ``kind`` at ``api_version`` (``group/version``), from its CRD."""
    crd = yaml.safe_load(CRD_FILES[kind].read_text())
    group, _, version = api_version.partition("/")
    assert (crd["spec"]["group"], crd["spec"]["names"]["kind"]) == (group, kind)
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version and v["served"]]
    schema = strict_json_schema(served["schema"]["openAPIV3Schema"])
    # The API server checks apiVersion, kind and metadata itself, metadata as the ObjectMeta
    # of every object (the CRD says only "object").
    schema["properties"] |= {
        "apiVersion": {"const": api_version},
        "kind": {"const": kind},
        "metadata": OBJECT_META,
    }
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://soccerpredict.test/crd/{kind.lower()}",
        **schema,
    }


@cache
def kafka_scaler_parameters() -> dict[str, tuple[str, frozenset[str], frozenset[str]]]:
    """Parameter -> (Go type, where it may come from, allowed values or empty) of KEDA's
    Kafka scaler, read from its ``keda:"name=...,order=...,enum=..."`` struct tags."""
    parameters = {}
    tags = re.finditer(r'^\s*\w+\s+([\w\[\]]+)\s+`keda:"([^"]*)"`', KAFKA_SCALER.read_text(), re.M)
    for tag in tags:
        options = dict(part.partition("=")[::2] for part in tag[2].split(","))
        parameters[options["name"]] = (
            tag[1],
            frozenset(options["order"].split(";")),
            frozenset(filter(None, options.get("enum", "").split(";"))),
        )
    assert {"bootstrapServers", "consumerGroup", "lagThreshold"} <= set(parameters)
    return parameters


def kafka_trigger_problems(metadata: dict[str, str]) -> list[str]:
    """What KEDA's Kafka scaler would refuse or ignore in a trigger's metadata (the CRD
    types it only as a map of strings)."""
    problems = []
    parameters = kafka_scaler_parameters()
    for name, value in metadata.items():
        if name not in parameters or "triggerMetadata" not in parameters[name][1]:
            problems.append(f"{name}: not a trigger parameter of the Kafka scaler")
            continue
        if not isinstance(value, str):
            continue  # the CRD's map of strings refuses it
        go_type, _, allowed = parameters[name]
        if allowed and value not in allowed:
            problems.append(f"{name}: {value!r} is not one of {sorted(allowed)}")
        if go_type.startswith("int") and not re.fullmatch(r"-?[0-9]+", value):
            problems.append(f"{name}: {value!r} is not an integer")
        if go_type == "bool" and value not in {"true", "false"}:
            problems.append(f"{name}: {value!r} is not true or false")
    return problems


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("helm"), *args], capture_output=True, text=True, timeout=60, check=False
    )


@cache
def render_text(*args: str, kube_version: str = KUBE_VERSIONS[-1]) -> str:
    result = run_helm(
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        kube_version,
        *args,
    )
    assert result.returncode == 0, f"helm template {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def render(*args: str, kube_version: str = KUBE_VERSIONS[-1]) -> list[dict[str, Any]]:
    text = render_text(*args, kube_version=kube_version)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def render_error(*args: str) -> str:
    result = run_helm("template", RELEASE, str(CHART), "--kube-version", KUBE_VERSIONS[-1], *args)
    assert result.returncode != 0, f"helm template {' '.join(args)} should have failed"
    return result.stderr


def one(manifests: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [m for m in manifests if m["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def kinds(manifests: list[dict[str, Any]]) -> set[str]:
    return {m["kind"] for m in manifests}


def pod_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of a Deployment, a Job, or the Jobs a CronJob makes."""
    spec = manifest["spec"]
    if manifest["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return dict(spec["template"]["spec"])


def containers(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(manifest)
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def worker(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = one(manifests, "Deployment")
    (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"]]
    return container


def k8s_definitions(kube_version: str) -> referencing.Resource:
    folder = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    path = folder / f"v{kube_version}-local-strict" / "_definitions.json"
    return referencing.Resource.from_contents(json.loads(path.read_text()))


def custom_resource_errors(manifest: dict[str, Any], kube_version: str) -> list[str]:
    """Every way ``manifest`` breaks its published CRD, and for KEDA's objects its Kafka
    scaler's parameters; empty when it is valid."""
    kind = manifest.get("kind", "")
    schema = crd_schema(kind, manifest.get("apiVersion", ""))
    registry = referencing.Registry().with_resources(
        [
            (K8S_DEFS, k8s_definitions(kube_version)),
            (schema["$id"], referencing.Resource.from_contents(schema)),
        ]
    )
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    errors = [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(manifest)
    ]
    spec = manifest.get("spec") or {}
    if kind == "ScaledObject":
        for trigger in spec.get("triggers") or []:
            if trigger.get("type") == "kafka":
                errors += kafka_trigger_problems(trigger.get("metadata") or {})
    if kind == "TriggerAuthentication":  # the chart's authenticates the Kafka scaler
        auth_params = {
            n for n, (_, order, _) in kafka_scaler_parameters().items() if "authParams" in order
        }
        errors += [
            f"secretTargetRef: {ref['parameter']} is not an auth parameter of the Kafka scaler"
            for ref in spec.get("secretTargetRef") or []
            if ref.get("parameter") not in auth_params
        ]
    return errors


@pytest.mark.parametrize("variant", VARIANTS)
def test_helm_lint_passes_strict(variant: str) -> None:
    result = run_helm(
        "lint", "--strict", "--kube-version", KUBE_VERSIONS[0], str(CHART), *VARIANTS[variant]
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_rendered_manifest_validates(variant: str, kube_version: str) -> None:
    manifests = render(*VARIANTS[variant], kube_version=kube_version)
    assert manifests
    for manifest in manifests:
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        if kind in CRD_FILES:
            errors = custom_resource_errors(manifest, kube_version)
            assert not errors, f"{kind}/{name} against its CRD: {errors}"
            continue
        assert kind in BUILT_IN_KINDS, f"{kind}/{name}: a kind this test does not know"
        try:
            kubernetes_validate.validate(manifest, kube_version, strict=True)
        except kubernetes_validate.SchemaNotFoundError as exc:
            pytest.fail(f"{kind}/{name}: no schema, so not validated: {exc.message}")
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            pytest.fail(f"{kind}/{name} against {kube_version}: {path}: {exc.message}")


def _set(path: str, value: Any) -> Any:
    """A change to a manifest: ``value`` at the dotted ``path`` (list indexes as numbers)."""

    def change(manifest: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = manifest
        for part in parents:
            node = node[part]
        node[last] = value

    return change


@pytest.mark.parametrize(
    ("kind", "change", "expected"),
    [
        # The CRDs: a misspelt field, a wrong type, a bad enum, a bad pattern, bad metadata.
        (
            "ScaledObject",
            _set("spec.triggers.0.authenticationRefs", {"name": "x"}),
            "'authenticationRefs' was unexpected",
        ),
        ("ScaledObject", _set("spec.minReplicaCount", "1"), "is not of type 'integer'"),
        ("ScaledObject", _set("spec.triggers.0.metadata.lagThreshold", 2000), "not of type"),
        (
            "TriggerAuthentication",
            _set("spec.secretTargetRef.0.keyName", "x"),
            "'keyName' was unexpected",
        ),
        ("ServiceMonitor", _set("spec.endpoints.0.interval", "30 seconds"), "does not match"),
        ("ServiceMonitor", _set("spec.endpoints.0.scheme", "tcp"), "is not one of"),
        ("ServiceMonitor", _set("metadata.lables", {}), "'lables' was unexpected"),
        ("PrometheusRule", _set("spec.groups.0.rules.0.fro", "5m"), "'fro' was unexpected"),
        # KEDA's Kafka scaler: a key it does not read, a value it refuses.
        (
            "ScaledObject",
            _set("spec.triggers.0.metadata.lagThresold", "10"),
            "lagThresold: not a trigger parameter",
        ),
        ("ScaledObject", _set("spec.triggers.0.metadata.sasl", "scram-sha-512"), "is not one of"),
        ("ScaledObject", _set("spec.triggers.0.metadata.lagThreshold", "2k"), "not an integer"),
        (
            "TriggerAuthentication",
            _set("spec.secretTargetRef.0.parameter", "user"),
            "user is not an auth parameter",
        ),
    ],
)
def test_a_wrong_custom_resource_fails_validation(kind: str, change: Any, expected: str) -> None:
    # So the check above can fail: each change breaks one rule of the CRD or the scaler.
    manifests = render(*VARIANTS["production"], *VARIANTS["prometheus-rule"])
    manifest = copy.deepcopy(one(manifests, kind))
    assert custom_resource_errors(manifest, KUBE_VERSIONS[-1]) == []
    change(manifest)
    errors = custom_resource_errors(manifest, KUBE_VERSIONS[-1])
    assert any(expected in error for error in errors), errors


def test_defaults_render_the_worker_without_the_optional_parts() -> None:
    manifests = render()
    assert kinds(manifests) == {"Deployment", "Service", "PodDisruptionBudget", "Job"}
    assert one(manifests, "Deployment")["spec"]["replicas"] == 1


def test_production_renders_every_part() -> None:
    manifests = render(*VARIANTS["production"])
    assert kinds(manifests) == {
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "Job",
        "ScaledObject",
        "TriggerAuthentication",
        "ServiceMonitor",
    }
    env = env_of(worker(manifests))
    assert env["TOPIC_PARTITIONS"]["value"] == "12"
    assert env["TOPIC_REPLICATION_FACTOR"]["value"] == "3"
    assert env["KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env["KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"


def test_keda_max_replicas_is_capped_at_the_partition_count() -> None:
    manifests = render(
        *VARIANTS["production"],
        "--set",
        "config.TOPIC_PARTITIONS=6,autoscaling.maxReplicas=50,autoscaling.minReplicas=9",
    )
    scaled = one(manifests, "ScaledObject")["spec"]
    assert scaled["maxReplicaCount"] == 6
    assert scaled["minReplicaCount"] == 6
    # Below the partition count, the user's maximum stands.
    fewer = render(*VARIANTS["production"], "--set", "autoscaling.maxReplicas=5")
    assert one(fewer, "ScaledObject")["spec"]["maxReplicaCount"] == 5


def test_fixed_replicas_are_capped_at_the_partition_count() -> None:
    manifests = render("--set", "config.TOPIC_PARTITIONS=3,replicaCount=8")
    assert one(manifests, "Deployment")["spec"]["replicas"] == 3


def test_keda_owns_the_replica_count() -> None:
    for variant in ("production", "dev-everything"):
        deployment = one(render(*VARIANTS[variant]), "Deployment")
        assert "replicas" not in deployment["spec"], variant


def test_keda_scales_on_the_lag_of_both_input_topics() -> None:
    manifests = render(*VARIANTS["production"])
    scaled = one(manifests, "ScaledObject")["spec"]
    assert scaled["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": one(manifests, "Deployment")["metadata"]["name"],
    }
    env = env_of(worker(manifests))
    triggers = scaled["triggers"]
    assert sorted(t["metadata"]["topic"] for t in triggers) == ["livescores", "match-requests"]
    for trigger in triggers:
        metadata = trigger["metadata"]
        assert trigger["type"] == "kafka"
        assert metadata["consumerGroup"] == env["CONSUMER_GROUP"]["value"]
        assert metadata["bootstrapServers"] == env["KAFKA_BOOTSTRAP_SERVERS"]["value"]
        assert metadata["lagThreshold"] == "2000"
        assert metadata["sasl"] == "scram_sha512"
        assert metadata["tls"] == "enable"
        assert trigger["authenticationRef"]["name"] == f"{FULLNAME}-kafka"

    auth = one(manifests, "TriggerAuthentication")
    assert auth["metadata"]["name"] == f"{FULLNAME}-kafka"
    refs = {ref["parameter"]: (ref["name"], ref["key"]) for ref in auth["spec"]["secretTargetRef"]}
    assert refs == {
        "username": ("soccerpredict-credentials", "KAFKA_SASL_USERNAME"),
        "password": ("soccerpredict-credentials", "KAFKA_SASL_PASSWORD"),
        "ca": ("soccerpredict-tls", "kafka-ca.crt"),
    }


def test_keda_on_plain_kafka_needs_no_trigger_authentication() -> None:
    manifests = render("--set", "autoscaling.enabled=true")
    assert "TriggerAuthentication" not in kinds(manifests)
    for trigger in one(manifests, "ScaledObject")["spec"]["triggers"]:
        assert "authenticationRef" not in trigger
        assert trigger["metadata"]["tls"] == "disable"
        assert "sasl" not in trigger["metadata"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_probes_use_health_and_ready(variant: str) -> None:
    container = worker(render(*VARIANTS[variant]))
    port_names = {port["name"] for port in container["ports"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/health"
    # Loading the model and rebuilding the tables takes a while: give it minutes.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] in port_names


@pytest.mark.parametrize("variant", VARIANTS)
def test_credentials_come_only_from_secrets(variant: str) -> None:
    manifests = render(*VARIANTS[variant])
    for manifest in manifests:
        if manifest["kind"] not in POD_KINDS:
            continue
        for container in containers(manifest):
            for name, entry in env_of(container).items():
                if name in SECRET_VARIABLES:
                    assert "value" not in entry, f"{manifest['kind']} {name} is inlined"
                    assert "secretKeyRef" in entry["valueFrom"]


def test_chart_made_secret_keeps_the_values_out_of_the_pod_specs() -> None:
    canary = "canary-password-8d1f"
    args = ("--set", f"secrets.values.KAFKA_SASL_PASSWORD={canary}")
    text = render_text(*args)
    assert canary not in text
    secret = one(render(*args), "Secret")
    assert base64.b64decode(secret["data"]["KAFKA_SASL_PASSWORD"]).decode() == canary
    # It must exist before the topics job, which is a pre-install hook too.
    annotations = secret["metadata"]["annotations"]
    job = one(render(*args), "Job")["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == job["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(annotations["helm.sh/hook-weight"]) < int(job["helm.sh/hook-weight"])
    env = env_of(worker(render(*args)))
    assert (
        env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"]
        == secret["metadata"]["name"]
    )


def test_existing_secret_is_referenced_not_made() -> None:
    manifests = render(*VARIANTS["production"])
    assert "Secret" not in kinds(manifests)
    env = env_of(worker(manifests))
    for name in SECRET_VARIABLES:
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == ("soccerpredict-credentials", name)
    # With SASL on, the worker cannot start without these: a missing key fails the pod.
    assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["optional"] is False
    assert env["ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True


def test_tls_files_are_mounted_and_pointed_at() -> None:
    manifests = render(*VARIANTS["production"])
    container = worker(manifests)
    env = env_of(container)
    assert env["KAFKA_SSL_CAFILE"]["value"] == "/etc/soccerpredict/tls/kafka-ca.crt"
    assert env["REDIS_SSL_CAFILE"]["value"] == "/etc/soccerpredict/tls/redis-ca.crt"
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["tls"]["mountPath"] == "/etc/soccerpredict/tls"
    assert mounts["tls"]["readOnly"] is True
    volumes = {
        v["name"]: v for v in one(manifests, "Deployment")["spec"]["template"]["spec"]["volumes"]
    }
    assert volumes["tls"]["secret"]["secretName"] == "soccerpredict-tls"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set", "config.REDIS_URL=redis://u:p@r:6379/0"), "config.REDIS_URL is a credential"),
        (("--set", "config.ADMIN_TOKEN=t"), "config.ADMIN_TOKEN is a credential"),
        (("--set", "config.KAFKA_SSL_CAFILE=/x"), "config.KAFKA_SSL_CAFILE is set by the chart"),
        (
            ("--set", "secrets.existingSecret=s,secrets.values.ADMIN_TOKEN=t"),
            "not both",
        ),
        (("--set", "secrets.values.PASSWORD=x"), "not a credential the service reads"),
        (("--set", "tls.kafka.caFile=ca.crt"), "need tls.existingSecret"),
        (("--set", "config.KAFKA_SECURITY_PROTOCOL=TLS"), "must be PLAINTEXT, SSL"),
        (
            ("-f", str(PRODUCTION_VALUES), "--set", "config.KAFKA_SASL_MECHANISM=GSSAPI"),
            "KAFKA_SASL_MECHANISM must be",
        ),
        (("--set", "config.TOPIC_PARTITIONS=0"), "TOPIC_PARTITIONS must be at least 1"),
        (("--set", "autoscaling.enabled=true,autoscaling.minReplicas=0"), "minReplicas"),
        (("--set", "features.init.enabled=true"), "features.init.image is required"),
        (
            ("--set", "retrain.enabled=true,retrain.schedule="),
            "retrain.schedule is required",
        ),
    ],
)
def test_bad_values_are_refused_with_a_reason(args: tuple[str, ...], message: str) -> None:
    assert message in render_error(*args)


@pytest.mark.parametrize("variant", ["default", "production"])
def test_topics_hook_job_runs_streams_topics_with_the_worker_settings(variant: str) -> None:
    manifests = render(*VARIANTS[variant])
    job = one(manifests, "Job")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "streams", "topics"]
    assert container["image"] == worker(manifests)["image"]
    own = {"POD_IP", "NODE_CANONICAL_URL"}  # the worker's address, for match-page proxying
    assert container["env"] == [e for e in worker(manifests)["env"] if e["name"] not in own]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in {"Never", "OnFailure"}


def test_topics_job_can_be_turned_off() -> None:
    assert "Job" not in kinds(render("--set", "topicsJob.enabled=false"))


def test_every_variable_the_chart_sets_is_a_setting() -> None:
    for variant in VARIANTS:
        # POD_IP is Kubernetes' downward API, only to build NODE_CANONICAL_URL from.
        names = set(env_of(worker(render(*VARIANTS[variant])))) - {"POD_IP"}
        assert names <= KNOWN_VARIABLES, f"{variant}: unknown {sorted(names - KNOWN_VARIABLES)}"


def test_workers_reach_each_other_at_their_pod_address() -> None:
    env = env_of(worker(render()))
    assert env["POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert env["NODE_CANONICAL_URL"]["value"].startswith("http://$(POD_IP):")


def test_empty_config_values_leave_the_variable_unset() -> None:
    env = env_of(worker(render()))
    assert "KAFKA_SASL_MECHANISM" not in env
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env
    assert env["WEB_HOST"]["value"] == "0.0.0.0"


@pytest.mark.parametrize("variant", VARIANTS)
def test_pods_run_locked_down(variant: str) -> None:
    manifests = render(*VARIANTS[variant])
    for manifest in manifests:
        if manifest["kind"] not in POD_KINDS:
            continue
        pod = pod_spec(manifest)
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in containers(manifest):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True
            assert context["runAsUser"] == 10001
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]]
        main = pod["containers"][0]
        mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
        assert "emptyDir" in volumes[mounts["/state"]]
        assert env_of(main)["STATE_DIR"]["value"] == "/state"


def test_deployment_restarts_a_worker_that_exits() -> None:
    pod = one(render(), "Deployment")["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Always"


def test_features_from_an_existing_claim() -> None:
    manifests = render(*VARIANTS["production"])
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["features"]["persistentVolumeClaim"] == {
        "claimName": "soccerpredict-features",
        "readOnly": True,
    }
    assert "initContainers" not in pod
    assert env_of(worker(manifests))["FEATURES_DIR"]["value"] == "/features"


def test_features_filled_by_an_init_container() -> None:
    pod = one(render(*VARIANTS["dev-everything"]), "Deployment")["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["image"] == "busybox:1.36"
    assert init["command"] == ["sh", "-c", "cp /seed/* $FEATURES_DIR/"]
    assert env_of(init)["FEATURES_DIR"]["value"] == "/features"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes["features"]
    mounts = {m["name"]: m["mountPath"] for m in init["volumeMounts"]}
    assert mounts["features"] == "/features"


def test_service_monitor_scrapes_metrics_on_the_web_port() -> None:
    assert "ServiceMonitor" not in kinds(render())
    manifests = render(*VARIANTS["production"])
    monitor = one(manifests, "ServiceMonitor")
    service = one(manifests, "Service")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_service_and_budget_select_the_worker_pods() -> None:
    manifests = render(*VARIANTS["production"])
    pod_labels = one(manifests, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert one(manifests, "Service")["spec"]["selector"].items() <= pod_labels.items()
    budget = one(manifests, "PodDisruptionBudget")["spec"]
    assert budget["maxUnavailable"] == 1
    assert budget["selector"]["matchLabels"].items() <= pod_labels.items()
    port = worker(manifests)["ports"][0]
    assert (port["name"], port["containerPort"]) == ("http", 6066)


def test_production_resources_are_set() -> None:
    resources = worker(render(*VARIANTS["production"]))["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"]
    assert resources["limits"]["memory"]


def test_prometheus_rule_is_off_by_default() -> None:
    for variant in ("default", "production", "dev-everything"):
        assert "PrometheusRule" not in kinds(render(*VARIANTS[variant])), variant


def test_prometheus_rule_ships_the_alerts_file_itself() -> None:
    # One copy of the rules: the chart's file is a link to deploy/prometheus/alerts.yml,
    # which helm follows when it loads (and packages) the chart.
    alerts = ROOT / "deploy" / "prometheus" / "alerts.yml"
    linked = CHART / "files" / "alerts.yml"
    assert linked.is_symlink(), f"{linked} must link to {alerts}, not copy it"
    assert linked.resolve() == alerts.resolve()
    rule = one(render(*VARIANTS["prometheus-rule"]), "PrometheusRule")
    assert rule["spec"] == {"groups": yaml.safe_load(alerts.read_text())["groups"]}
    # Prometheus's own templates reach it untouched (helm does not render the file).
    annotations = [r["annotations"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert all("{{ $value" in a["description"] for a in annotations)
    labels = rule["metadata"]["labels"]
    assert labels["release"] == "kube-prometheus-stack"
    assert labels["app.kubernetes.io/instance"] == RELEASE


# -- retraining from the stream (issue 24) ---------------------------------------------------


def retrain_job(manifests: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The CronJob and its one container."""
    cron = one(manifests, "CronJob")
    (container,) = pod_spec(cron)["containers"]
    return cron, container


def test_retrain_cronjob_is_off_by_default() -> None:
    for variant in ("default", "production", "dev-everything", "prometheus-rule"):
        assert "CronJob" not in kinds(render(*VARIANTS[variant])), variant


@pytest.mark.parametrize("variant", ["retrain", "retrain-dev"])
def test_retrain_cronjob_runs_models_retrain_with_the_worker_settings(variant: str) -> None:
    manifests = render(*VARIANTS[variant])
    cron, container = retrain_job(manifests)
    served = worker(manifests)
    assert container["image"] == served["image"]
    assert container["command"] == ["python", "-m", "models", "retrain"]
    args = models_parser().parse_args(["retrain", *container["args"]])
    assert args.command == "retrain"
    # The same settings and credentials as the worker (its own address aside), so it reads
    # the results topic the workers write and registers where they resolve the challenger.
    own = {"POD_IP", "NODE_CANONICAL_URL"}
    assert container["env"] == [e for e in served["env"] if e["name"] not in own]
    env = env_of(container)
    assert env["MODEL_ALIAS"]["value"] != "challenger", "retrain would move the served alias"
    assert "challenger" in env["CHALLENGER_ALIASES"]["value"].split(",")
    spec = cron["spec"]
    assert len(spec["schedule"].split()) == 5, spec["schedule"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert pod_spec(cron)["restartPolicy"] == "Never"
    assert container["resources"]["limits"]["memory"]


def test_retrain_reads_the_base_data_from_a_claim_read_only() -> None:
    cron, container = retrain_job(render(*VARIANTS["retrain"]))
    args = models_parser().parse_args(["retrain", *container["args"]])
    assert str(args.holdout_from) == "2025-01-01"
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["data"]["mountPath"] == str(args.data)
    assert mounts["data"]["readOnly"] is True
    volumes = {v["name"]: v for v in pod_spec(cron)["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {
        "claimName": RETRAIN_CLAIM,
        "readOnly": True,
    }


def test_retrain_without_a_claim_uses_the_synthetic_history_of_the_values() -> None:
    cron, container = retrain_job(
        render(*VARIANTS["retrain-dev"], "--set", "retrain.synthetic.seed=7")
    )
    args = models_parser().parse_args(["retrain", *container["args"]])
    assert (args.data, args.synthetic, args.seed) == (None, 3000, 7)
    assert "data" not in {v["name"] for v in pod_spec(cron)["volumes"]}
