"""The canary scan finds what it is for (and only that)."""

from __future__ import annotations

import json
from pathlib import Path

from canary_scan import CanaryScan
from deploy_support import material


def test_the_scan_finds_materials_and_response_urls_where_they_do_not_belong(tmp_path_factory) -> None:
    tmp_path: Path = tmp_path_factory.mktemp("planted")  # not tmp_path: the session's own scan would see the leaks
    scan = CanaryScan()
    scan.url_issued("https://127.0.0.1:4443/cloudformation-response/Zm9vYmFyYmF6cXV4")
    state = tmp_path / ".managed-things"
    (state / "logs").mkdir(parents=True)
    (state / "stacks").mkdir()
    (state / "logs" / "Stack.log").write_text(f'START\n{{"material": "{material(3)}"}}\nEND\n')
    resource = {"logical_id": "Plug", "properties": {"AuthenticationMaterial": material(4)}}
    (state / "stacks" / "Stack.json").write_text(json.dumps({"resources": {"Plug": resource}}))
    (state / "stacks" / "Stack.journal.jsonl").write_text(
        json.dumps({"entry": "answer", "data": {"Reason": material(5)}}) + "\n"
    )
    (tmp_path / "cdk.out").mkdir()  # the assembly: the construct warns that plain-text material is in it
    (tmp_path / "cdk.out" / "Stack.template.json").write_text(json.dumps({"AuthenticationMaterial": material(6)}))
    (state / "emulator.sqlite").write_text(material(7))  # the service's own store
    scan.directories.append(("test", tmp_path))
    scan.output("managed-things deploy", '{"reason": "PUT to /cloudformation-response/Zm9vYmFyYmF6cXV4 failed"}')
    leaks = scan.leaks()
    assert leaks == [
        "managed-things deploy: a ResponseURL",
        "test: .managed-things/logs/Stack.log: material '$I:A1B2C3D4E5F6A7B8'",
        "test: .managed-things/stacks/Stack.journal.jsonl: material '$I:A1B2C3D4E5F6A7B8'",
    ]
