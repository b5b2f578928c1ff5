"""The REST API reference page, rendered from the OpenAPI document of ``interlace serve``.

The document is the one the server serves at ``/api/openapi.json``: the application is built
exactly as ``interlace serve`` builds it (the core API, the routers of installed extensions,
the security settings) for an empty project in a temporary folder, and asked for its document;
nothing is started and nothing listens. The page is plain Markdown (searchable, no script); the
document itself is published beside it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

INTRO = """\
# REST API reference

The HTTP API of `interlace serve`, rendered from the OpenAPI {openapi} document that the server
builds from its routes' code (`GET /api/openapi.json`; a running server also serves interactive
docs at `/api/docs`). This page was generated when the site was built; the document itself is
[openapi.json](openapi.json).

{description}

Every route needs an API key with the scope it names, sent as `Authorization: Bearer <key>` or
`X-API-Key: <key>`, except the public ones (see [API security](../api-security.md)); error
bodies are [`ErrorResponse`](#schema-errorresponse).
"""


def openapi_document() -> dict[str, Any]:
    """The document ``interlace serve`` serves, for an empty project."""
    from interlace_http.app import DOCUMENT
    from interlace_service.app import create_app
    from interlace_service.server import security_settings
    from interlace_service.service import Service

    with tempfile.TemporaryDirectory(prefix="interlace-openapi-") as folder:
        root = Path(folder)
        (root / "config.yaml").write_text("name: interlace\n")
        (root / "models").mkdir()
        service = Service.load(root)
        try:
            app = create_app(service, security=security_settings(service), manage=False)
            document: dict[str, Any] = app[DOCUMENT].build()
        finally:
            service.store.close()
    return document


def rest_reference(document: dict[str, Any]) -> str:
    """The page (Markdown) for ``document``."""
    info = document.get("info", {})
    out = [
        INTRO.format(
            openapi=document.get("openapi", "3.1"), description=info.get("description", "")
        )
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, operations in document.get("paths", {}).items():
        for method, op in operations.items():
            if method.startswith("x-") or method == "parameters":
                continue
            tag = (op.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append((method.upper(), path, op))
    out += ["| Method | Path | Scope | What it does |", "|---|---|---|---|"]
    for _tag, ops in by_tag.items():
        for method, path, op in ops:
            scope = op.get("x-interlace-scope", "")
            out.append(
                f"| `{method}` | [`{path}`](#{_op_anchor(method, path)}) | {scope} | "
                f"{_cell(op.get('summary', ''))} |"
            )
    out.append("")
    for tag, ops in by_tag.items():
        out += [f"## {tag[:1].upper()}{tag[1:]}", ""]
        for method, path, op in ops:
            out += _operation(method, path, op)
    schemas = document.get("components", {}).get("schemas", {})
    if schemas:
        out += ["## Schemas", ""]
        for name, schema in schemas.items():
            out += _schema(name, schema)
    return "\n".join(out)


def _operation(method: str, path: str, op: dict[str, Any]) -> list[str]:
    out = [f"### `{method} {path}` {{ #{_op_anchor(method, path)} }}", ""]
    if op.get("summary"):
        out += [_text(op["summary"]), ""]
    if op.get("description") and op.get("description") != op.get("summary"):
        out += [_text(op["description"]), ""]
    scope = op.get("x-interlace-scope")
    if scope:
        out += [f"Scope: `{scope}`.", ""]
    params = op.get("parameters", [])
    if params:
        out += ["| Parameter | In | Type | Required | Meaning |", "|---|---|---|---|---|"]
        for p in params:
            schema = p.get("schema", {})
            default = schema.get("default")
            note = p.get("description") or schema.get("description") or ""
            if default is not None:
                note = f"{note} Default: `{json.dumps(default)}`.".strip()
            out.append(
                f"| `{p['name']}` | {p.get('in', '')} | {type_of(schema)} | "
                f"{'yes' if p.get('required') else 'no'} | {_cell(note)} |"
            )
        out.append("")
    body = op.get("requestBody")
    if body:
        for media, content in body.get("content", {}).items():
            required = "" if body.get("required") else " (optional)"
            out += [f"Request body{required}: `{media}`, {type_of(content.get('schema', {}))}.", ""]
    responses = op.get("responses", {})
    if responses:
        out += ["| Status | Meaning | Body |", "|---|---|---|"]
        for status, response in responses.items():
            bodies = [
                f"`{media}` {type_of(c.get('schema', {}))}"
                for media, c in response.get("content", {}).items()
            ]
            out.append(
                f"| {status} | {_cell(response.get('description', ''))} | {', '.join(bodies)} |"
            )
        out.append("")
    return out


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    out = [f"### `{name}` {{ #{_schema_anchor(name)} }}", ""]
    if schema.get("description"):
        out += [_text(schema["description"]), ""]
    properties = schema.get("properties", {})
    if properties:
        required = set(schema.get("required", []))
        out += ["| Field | Type | Required | Meaning |", "|---|---|---|---|"]
        for field, sub in properties.items():
            note = sub.get("description", "")
            if "default" in sub and sub["default"] is not None:
                note = f"{note} Default: `{json.dumps(sub['default'])}`.".strip()
            out.append(
                f"| `{field}` | {type_of(sub)} | {'yes' if field in required else 'no'} | "
                f"{_cell(note)} |"
            )
        out.append("")
    elif schema:
        out += [f"Type: {type_of(schema)}.", ""]
    return out


def type_of(schema: dict[str, Any]) -> str:
    """A JSON schema as a short type: ``string``, ``list of [Run](#schema-run)``, ..."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[`{name}`](#{_schema_anchor(name)})"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [type_of(s) for s in schema[key]]
            return " or ".join(dict.fromkeys(parts))
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return type_of(schema["allOf"][0])
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(type_of({**schema, "type": k}) for k in kind)
    if kind == "array":
        return f"list of {type_of(schema.get('items', {}))}"
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return f"object of string → {type_of(extra)}"
        return "object"
    if kind:
        fmt = schema.get("format")
        return f"{kind} ({fmt})" if fmt else str(kind)
    return "any"


def _op_anchor(method: str, path: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in path.lower())
    return f"{method.lower()}-{'-'.join(filter(None, slug.split('-')))}"


def _schema_anchor(name: str) -> str:
    return f"schema-{name.lower()}"


def _text(text: str) -> str:
    return text.replace("<", "&lt;")


def _cell(text: str) -> str:
    return " ".join(_text(str(text)).split()).replace("|", "\\|")
