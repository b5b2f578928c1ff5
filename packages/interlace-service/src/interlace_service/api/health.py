"""``/api/v1/health`` (public: load balancers and the CLI ask it) and ``/api/v1/project``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from interlace.config import list_environments, masked_config
from interlace_http.routing import Router
from pydantic import BaseModel, Field

from interlace_service import __version__
from interlace_service.api.common import blocking
from interlace_service.service import service_of

if TYPE_CHECKING:
    from aiohttp import web

router = Router("/api/v1", tags=["service"])


class Health(BaseModel):
    """Whether the server works, and how busy it is."""

    status: Literal["ok", "degraded"] = Field(
        description="degraded: the last reload failed (the previous project is still served)"
    )
    version: str
    project: str
    env: str
    uptime: float = Field(description="Seconds since the server started")
    taking_runs: bool = Field(description="False while the server drains (SIGTERM)")
    runs_running: int
    runs_queued: int


@router.get("/health", response=Health, public=True)
async def health(request: web.Request) -> Health:
    """Health of the server."""
    service = service_of(request)
    queued = await blocking(request, service.store.run_requests, service.env, ["queued"])
    return Health(
        status="degraded" if service.load_error else "ok",
        version=__version__,
        project=service.project.name,
        env=service.env,
        uptime=round(time.time() - service.started_at, 3),
        taking_runs=service.worker.taking,
        runs_running=len(service.worker.running()),
        runs_queued=len(queued),
    )


class Connection(BaseModel):
    name: str
    type: str


class ProjectInfo(BaseModel):
    """The served project: its config (secrets masked), environments, connections."""

    name: str
    env: str
    root: str
    environments: list[str]
    models: int
    connections: list[Connection]
    config: dict[str, Any] = Field(description="The merged config, secrets masked")
    config_files: list[str]
    load_error: str | None = Field(
        default=None, description="Why the last reload failed (the previous project is served)"
    )


@router.get("/project", response=ProjectInfo)
async def project_info(request: web.Request) -> ProjectInfo:
    """The project and its merged, secret-masked config (as `interlace config` prints it)."""
    service = service_of(request)
    project = service.project
    envs = await blocking(request, list_environments, project.root)
    root = project.root
    return ProjectInfo(
        name=project.name,
        env=project.env,
        root=str(root),
        environments=sorted({*envs, *(project.config.environments.names or ()), project.env}),
        models=len(project.models),
        connections=[
            Connection(name=name, type=cfg.type) for name, cfg in project.config.connections.items()
        ],
        config=masked_config(project.config),
        config_files=[
            str(f.relative_to(root)) if f.is_relative_to(root) else str(f)
            for f in project.loaded.files
        ],
        load_error=service.load_error,
    )
