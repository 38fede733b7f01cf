"""CustomResourceDefinition documents of the kinds, and the command that writes or checks ``crds/``.

    python -m sagemaker_operator.api.crds --write crds/   # regenerate
    python -m sagemaker_operator.api.crds --check crds/   # exit 1, listing stale files, when crds/ is out of date
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from sagemaker_operator.api.kinds import CATEGORY, GROUP, KINDS, VERSION, Kind

HEADER = ("# Generated from botocore's SageMaker service model by\n"
          "#   python -m sagemaker_operator.api.crds --write crds/\n"
          "# Do not edit: change sagemaker_operator/api/kinds.py and regenerate.\n")


def crd(kind: Kind) -> dict[str, Any]:
    """The CustomResourceDefinition (apiextensions.k8s.io/v1) of one kind."""
    columns = [{"name": column.name, "type": column.type, "jsonPath": column.json_path,
                **({"description": column.description} if column.description else {})}
               for column in kind.columns]
    columns.append({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name, "labels": {"app.kubernetes.io/part-of": "sagemaker-operator"}},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": kind.kind, "listKind": f"{kind.kind}List", "plural": kind.plural,
                      "singular": kind.singular, "shortNames": list(kind.short_names), "categories": [CATEGORY]},
            "versions": [{
                "name": VERSION, "served": True, "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": columns,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": kind.description,
                    **({"x-kubernetes-validations": kind.root_validations()} if kind.root_validations() else {}),
                    "required": ["spec"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": kind.spec_schema(),
                        "status": {
                            "type": "object",
                            "description": f"Observed state of the {kind.kind}, written by the operator.",
                            "properties": dict(kind.status),
                        },
                    },
                }},
            }],
        },
    }


def file_name(kind: Kind) -> str:
    """``sagemakermodels.sagemaker.operator.dev.yaml``."""
    return f"{kind.crd_name}.yaml"


def render(kind: Kind) -> str:
    """The YAML text of one kind's CRD file: deterministic (sorted mapping keys), so regeneration is stable."""
    body = yaml.safe_dump(crd(kind), sort_keys=True, default_flow_style=False, width=120, allow_unicode=True)
    return HEADER + body


def write(folder: Path) -> list[Path]:
    """Write every kind's CRD file into ``folder``; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in KINDS:
        path = folder / file_name(kind)
        path.write_text(render(kind))
        paths.append(path)
    return paths


def stale(folder: Path) -> list[str]:
    """Files of ``folder`` that differ from what :func:`write` would write: missing, outdated, or no longer a kind."""
    problems = []
    expected = {file_name(kind): render(kind) for kind in KINDS}
    for name, text in sorted(expected.items()):
        path = folder / name
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_text() != text:
            problems.append(f"{path}: out of date")
    for path in sorted(folder.glob(f"*.{GROUP}.yaml")):
        if path.name not in expected:
            problems.append(f"{path}: not a current kind")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--write FOLDER`` or ``--check FOLDER``."""
    parser = argparse.ArgumentParser(prog="python -m sagemaker_operator.api.crds", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", metavar="FOLDER", type=Path, help="write the CRD files into FOLDER")
    action.add_argument("--check", metavar="FOLDER", type=Path, help="exit 1 if FOLDER's CRD files are stale")
    args = parser.parse_args(argv)
    if args.write:
        for path in write(args.write):
            print(f"wrote {path} ({path.stat().st_size} bytes)")
        return 0
    problems = stale(args.check)
    for problem in problems:
        print(problem)
    if problems:
        print(f"regenerate with: python -m sagemaker_operator.api.crds --write {args.check}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
