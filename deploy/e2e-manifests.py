"""deploy/kubernetes as `podman kube play` can run it on one machine, for deploy/e2e.

Reads configmap.yaml on stdin and deployment.yaml on file descriptor 3, and writes the ConfigMap
and one single-replica Deployment per replica to stdout. Every change is printed to stderr with
its reason: either what podman 4.3 lacks, or what this machine's registry and loopback addresses
replace.

Usage: python3 e2e-manifests.py REGISTRY VERSION NAME=ADDRESS:PORT:METRICS_PORT...
"""

import re
import sys


def change(text, old, new, reason, count=1):
    """`text` with `old` (a regular expression) replaced by `new`, `count` times exactly."""
    changed, made = re.subn(old, new, text, flags=re.MULTILINE)
    if made != count:
        sys.exit(f"e2e-manifests: expected {count} of {old!r}, found {made}")
    print(f"  change: {reason}", file=sys.stderr)
    return changed


def main():
    registry, version, *replicas = sys.argv[1:]
    configmap = sys.stdin.read()
    with open(3, encoding="utf-8") as deployment_file:
        deployment = deployment_file.read()

    print("configmap.yaml:", file=sys.stderr)
    configmap = change(
        configmap,
        r'^(    module = )"hello\.wat"$',
        rf'\1"oci://{registry}/wagi-e2e/hello:1"',
        f"/hello's module comes from the registry: oci://{registry}/wagi-e2e/hello:1",
    )
    out = [configmap.rstrip("\n")]

    for replica in replicas:
        name, address = replica.split("=", 1)
        host, port, metrics_port = address.split(":")
        print(f"deployment.yaml, replica {name}:", file=sys.stderr)
        text = deployment
        text = change(
            text,
            r"^  name: wagi$",
            f"  name: wagi-{name}",
            f"named wagi-{name}, with replicas: 1: podman runs a Deployment's replicas alike, so two on one "
            "machine's host network would bind the same address",
        )
        text = change(text, r"^  replicas: 2$", "  replicas: 1", "replicas: 1 (see above)")
        text = change(
            text,
            r"^(      terminationGracePeriodSeconds: \d+)$",
            r"\1\n      hostNetwork: true\n      restartPolicy: OnFailure",
            "hostNetwork: true: podman's pod networks are bridges with private addresses, and this test "
            "stays on loopback; restartPolicy: OnFailure: podman 4.3 reruns an init container under Always "
            "(podman#16343)",
        )
        text = change(
            text,
            r"^          ports:\n(?:            .*\n|              .*\n)+",
            "",
            "no ports: podman publishes containerPorts only on bridge networks",
        )
        text = change(
            text,
            r"^          (startup|readiness|liveness)Probe:\n(?:            .*\n)+",
            "",
            "no probes: podman runs an httpGet probe as curl inside the container, which has no curl, "
            "and schedules it with systemd; haproxy checks /healthz instead",
            count=3,
        )
        text = change(
            text,
            r"^(\s+image: )wagi:0\.1\.0$",
            rf"\g<1>{registry}/wagi:{version}",
            f"the image from the registry: {registry}/wagi:{version}",
            count=2,
        )
        text = change(
            text,
            r"^(\s+- )0\.0\.0\.0:3000$",
            rf"\g<1>{host}:{port}",
            f"listens on {host}:{port}: one loopback address per replica",
        )
        text = change(
            text,
            r"^(\s+- )0\.0\.0\.0:9090$",
            rf"\g<1>{host}:{metrics_port}",
            f"metrics on {host}:{metrics_port}",
        )
        for volume in ["module-cache", "logs", "state"]:
            text = change(
                text,
                rf"^(\s+(?:- )?name: ){volume}$",
                rf"\g<1>{volume}-{name}",
                f"volume {volume} named {volume}-{name}: podman makes an emptyDir a named volume that every pod naming it shares",
                count=text.count(f"name: {volume}\n"),
            )
        out.append(text.rstrip("\n"))
    print("\n---\n".join(out))


main()
