"""The canary scan finds what it is for (and only that)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from canary_scan import MODEL, SERIAL_NUMBER, TAG_KEY, TAGS, CanaryScan
from deploy_support import material


def test_the_scan_finds_sensitive_values_and_response_urls_where_they_do_not_belong(tmp_path_factory) -> None:
    tmp_path: Path = tmp_path_factory.mktemp("planted")  # not tmp_path: the session's own scan would see the leaks
    scan = CanaryScan()
    scan.url_issued("https://127.0.0.1:4443/cloudformation-response/Zm9vYmFyYmF6cXV4")
    state = tmp_path / ".managed-things"
    (state / "logs").mkdir(parents=True)
    (state / "logs" / "Stack.log").write_text(f'START\n{{"material": "{material(3)}"}}\nEND\n')
    resource = {"logical_id": "Plug", "properties": {"AuthenticationMaterial": material(4), "Tags": TAGS}}
    answer = {"entry": "answer", "data": {"Reason": f"bad serial {SERIAL_NUMBER}"}}
    planted = sqlite3.connect(state / "state.sqlite")  # as the state store writes it (state/database.py)
    with planted:
        planted.execute("CREATE TABLE stacks (name TEXT, doc TEXT)")
        planted.execute("CREATE TABLE journal (seq INTEGER, stack TEXT, entry TEXT)")
        planted.execute("CREATE TABLE sensitive (ref TEXT, value TEXT)")  # a secret store
        planted.execute("INSERT INTO stacks VALUES ('Stack', ?)", (json.dumps({"resources": {"Plug": resource}}),))
        planted.execute("INSERT INTO journal VALUES (1, 'Stack', ?)", (json.dumps(answer),))
        planted.execute("INSERT INTO sensitive VALUES ('sha256:00', ?)", (json.dumps(material(8)),))
    planted.close()
    (tmp_path / "cdk.out").mkdir()  # the assembly: the construct warns that plain-text material is in it
    (tmp_path / "cdk.out" / "Stack.template.json").write_text(json.dumps({"AuthenticationMaterial": material(6)}))
    (state / "emulator.sqlite").write_text(f"{MODEL} {material(7)}")  # the service's own data, but no material
    (state / "secrets.json").write_text(json.dumps({"secrets": [{"value": material(9)}]}))
    scan.directories.append(("test", tmp_path))
    scan.output("managed-things deploy", '{"reason": "PUT to /cloudformation-response/Zm9vYmFyYmF6cXV4 failed"}')
    leaks = scan.leaks()
    assert leaks == [
        "managed-things deploy: a ResponseURL",
        "test: .managed-things/emulator.sqlite: canary '$I:A1B2C3D4E5F6A7B8'",
        "test: .managed-things/logs/Stack.log: canary '$I:A1B2C3D4E5F6A7B8'",
        "test: .managed-things/state.sqlite: canary '$I:A1B2C3D4E5F6A7B8'",
        "test: .managed-things/state.sqlite: canary 'SN-CANARY-7Q4X'",
        f"test: .managed-things/state.sqlite: canary {TAG_KEY!r}",
        "test: .managed-things/state.sqlite: canary 'tagvalue-canary-H2M'",
    ]
