"""The proof's cloud assembly: synthesized once (the real provider asset), then its managed things rewritten."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import canary_scan
from deploy_support import device, material, synth

STACK = "Proof"


def _define(app: cdk.App) -> None:
    device(cdk.Stack(app, STACK), "Seed", 1)


def synthesize_base(directory: Path) -> Path:
    return synth(directory / "cdk.out", _define)


def copy_base(base: Path, root: Path) -> tuple[Path, dict[str, Any]]:
    """A copy of the synthesized assembly below ``root``, and its template."""
    cdk_out = root / "cdk.out"
    shutil.copytree(base, cdk_out, symlinks=True)
    return cdk_out, json.loads((cdk_out / f"{STACK}.template.json").read_text())


# The canary scan's values of the sensitive members a generated thing always has (Brand and Tags vary).
CANARY_MEMBERS = {
    "SerialNumber": canary_scan.SERIAL_NUMBER,
    "Model": canary_scan.MODEL,
    "Owner": canary_scan.OWNER,
    "Classification": canary_scan.CLASSIFICATION,
}


def thing_properties(index: int, *, role: str = "DEVICE", **members: Any) -> dict[str, Any]:
    """A managed thing's properties as the construct synthesizes them (material(index) as its material, and
    ``CANARY_MEMBERS``)."""
    return {
        "Role": role,
        "AuthenticationMaterial": material(index),
        "AuthenticationMaterialType": "ZIGBEE_QR_BAR_CODE",
        **CANARY_MEMBERS,
        **{k: v for k, v in members.items() if v is not None},
    }
