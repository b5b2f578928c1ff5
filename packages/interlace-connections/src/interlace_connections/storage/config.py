"""Configuration of the storage connections: ``filesystem``, ``sftp`` and ``s3``.

Example (``config.yaml``)::

    connections:
      landing:
        type: filesystem
        path: data/landing            # relative to the project folder
      partner:
        type: sftp
        host: sftp.partner.example
        user: interlace
        key_file: ~/.ssh/id_ed25519
        known_hosts: ~/.ssh/known_hosts
        path: /outbound
      lake:
        type: s3
        bucket: acme-lake
        prefix: raw/
        region: eu-west-1             # keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
"""

from __future__ import annotations

from typing import Literal

from interlace.connection_config import ConnectionConfig
from pydantic import ConfigDict, Field, field_validator, model_validator


class FilesystemConnectionConfig(ConnectionConfig):
    """A folder on the local (or a mounted) file system; every path is relative to it."""

    type: Literal["filesystem"] = "filesystem"
    path: str  # the base folder, relative to the project folder or absolute
    create: bool = True  # create the base folder on the first write


HostKeyChecking = Literal["strict", "accept_new", "off"]


class SFTPConnectionConfig(ConnectionConfig):
    """A folder on an SFTP server (SSH), reached with a password or a private key."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    type: Literal["sftp"] = "sftp"
    host: str
    """The SFTP server's host name."""
    port: int = Field(default=22, ge=1, le=65535)
    """The server's SSH port."""
    user: str
    """The user to log in as."""
    password: str | None = None
    """The password, when no key file is used (use `${VAR}` to keep it out of the file)."""
    key_file: str | None = None  # a private key (OpenSSH or PEM); ~ is expanded
    key_password: str | None = None  # the key file's passphrase
    known_hosts: str | None = None  # an OpenSSH known_hosts file (default ~/.ssh/known_hosts)
    host_key: str | None = None  # the server's public key, "ssh-ed25519 AAAA..." (pins it)
    host_key_checking: HostKeyChecking = "strict"
    """How the server's key is checked: `strict` (it must be known or pinned), `accept_new`
    (remember a new one), `off` (never check: tests only)."""
    path: str = "."  # the base folder on the server; relative paths start at the login folder
    connect_timeout: float = Field(default=10.0, gt=0)  # TCP connect, SSH handshake, login
    timeout: float = Field(default=30.0, gt=0)  # each file operation

    @model_validator(mode="after")
    def _needs_a_credential(self) -> SFTPConnectionConfig:
        if self.password is None and self.key_file is None:
            raise ValueError("give `password` or `key_file` to log in")
        return self

    def target(self) -> str:
        """``user@host:port/path`` for messages (no secrets)."""
        return f"{self.user}@{self.host}:{self.port}"


class S3ConnectionConfig(ConnectionConfig):
    """A bucket (and optional key prefix) on Amazon S3 or an S3-compatible server.

    Credentials come from ``access_key_id``/``secret_access_key`` when given, else from the
    standard AWS sources (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``,
    ``AWS_PROFILE`` and the shared credentials file, instance roles).
    """

    model_config = ConfigDict(use_attribute_docstrings=True)

    type: Literal["s3"] = "s3"
    bucket: str = Field(min_length=3, max_length=63)
    """The bucket's name."""
    prefix: str = ""  # a key prefix every path is under ("raw/" or "raw")
    region: str | None = None  # default: AWS_REGION / AWS_DEFAULT_REGION, else us-east-1
    endpoint_url: str | None = None  # an S3-compatible server, e.g. http://minio:9000
    access_key_id: str | None = None
    """An access key id (default: the standard AWS credential sources)."""
    secret_access_key: str | None = None
    """The access key's secret (use `${VAR}` to keep it out of the file)."""
    session_token: str | None = None
    """A session token, with temporary credentials."""
    profile: str | None = None  # a profile of the shared AWS config/credentials files
    path_style: bool | None = None  # default: path style with endpoint_url, else virtual-hosted
    connect_timeout: float = Field(default=10.0, gt=0)
    """Seconds to open a connection to the server."""
    read_timeout: float = Field(default=60.0, gt=0)
    """Seconds to wait for an answer to a request."""
    retries: int = Field(default=2, ge=0, le=10)  # extra attempts after a failed request

    @field_validator("bucket")
    @classmethod
    def _plain_bucket(cls, value: str) -> str:
        if "/" in value or value.startswith("s3:"):
            raise ValueError("give the bucket name only (put folders in `prefix`)")
        return value

    @field_validator("prefix")
    @classmethod
    def _normal_prefix(cls, value: str) -> str:
        value = value.strip("/")
        return f"{value}/" if value else ""

    @model_validator(mode="after")
    def _keys_in_pairs(self) -> S3ConnectionConfig:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("give both `access_key_id` and `secret_access_key`, or neither")
        return self

    @property
    def uses_path_style(self) -> bool:
        return self.path_style if self.path_style is not None else self.endpoint_url is not None
