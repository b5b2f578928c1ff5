"""The OpenAPI document of a secured server declares how to authenticate (bearer key,
``X-API-Key`` header, browser session cookie) and which operations need none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from interlace.testing import ProjectFolder
from interlace_http.settings import SecuritySettings, load_settings
from interlace_http.testing import ServedApp
from interlace_service.app import create_app
from interlace_service.options import ServiceOptions
from interlace_service.service import Service

ALL: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}, {"session": []}]


def document(root: Path, public: list[str] | None, *, enabled: bool = True) -> dict[str, Any]:
    service = Service.load(root, options=ServiceOptions(grace=5.0))
    auth: dict[str, object] = {"enabled": enabled}
    if public is not None:
        auth["public_paths"] = public
    settings: SecuritySettings = load_settings({"auth": auth})
    http = ServedApp(create_app(service, routers=[], security=settings)).start()
    try:
        reply = http.call("GET", "/api/openapi.json")  # public: the docs need no key
        assert reply.status == 200, reply
        found: dict[str, Any] = reply.json
        return found
    finally:
        http.close()


def test_secured_document_declares_schemes_and_per_operation_security(tmp_path: Path) -> None:
    folder = ProjectFolder.create(tmp_path / "shop").write({"models/a.sql": "SELECT 1 AS id"})

    doc = document(folder.root, ["/api/v1/health", "/metrics"])

    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearer"]["description"],
    }
    assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["session"]["in"] == "cookie"
    paths = doc["paths"]
    assert paths["/api/v1/health"]["get"]["security"] == []
    assert paths["/metrics"]["get"]["security"] == []  # listed in public_paths
    assert "401" not in paths["/metrics"]["get"]["responses"]
    assert paths["/api/v1/models"]["get"]["security"] == ALL
    assert paths["/api/v1/runs"]["post"]["security"] == ALL
    for path, operations in paths.items():
        for method, operation in operations.items():
            if operation["security"]:
                assert "401" in operation["responses"], (method, path)

    default = document(folder.root, None)["paths"]
    assert default["/metrics"]["get"]["security"] == ALL  # a `read` key by default
    assert default["/metrics"]["get"]["x-interlace-scope"] == "read"


def test_an_open_server_declares_no_security(tmp_path: Path) -> None:
    folder = ProjectFolder.create(tmp_path / "shop").write({"models/a.sql": "SELECT 1 AS id"})

    doc = document(folder.root, None, enabled=False)

    assert "securitySchemes" not in doc["components"]
    assert "security" not in doc["paths"]["/api/v1/models"]["get"]
