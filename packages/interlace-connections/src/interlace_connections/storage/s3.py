"""``type: s3``: a bucket (and key prefix) on Amazon S3 or an S3-compatible server.

File operations go through boto3; a model's engine reads and writes the bucket itself through
DuckDB's httpfs, with a secret made from the same settings and credentials (``CREATE SECRET``
on the task's session, scoped to the bucket and prefix). Requests are bounded by
``connect_timeout``/``read_timeout`` and retried at most ``retries`` times.
"""

from __future__ import annotations

import io
import math
import posixpath
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast
from urllib.parse import urlsplit

from interlace_connections.storage import engine_io
from interlace_connections.storage.base import Storage, StorageConnectionError
from interlace_connections.storage.paths import StorageError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import IO

    from interlace.engines.base import Session
    from interlace.errors import InterlaceError

    from interlace_connections.storage.config import S3ConnectionConfig

_DENIED = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "403",
}
_SPOOL = 16 * 1024 * 1024  # bytes an open(..., "wb") keeps in memory before spilling to disk


class _BodyReader(io.RawIOBase):
    """A streamed S3 object body as a raw binary file."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class _Uploader(io.RawIOBase):
    """Collects written bytes (memory, then a temporary file) and uploads them on close."""

    def __init__(self, storage: S3Storage, path: str) -> None:
        self._storage = storage
        self._path = path
        self._buffer = tempfile.SpooledTemporaryFile(max_size=_SPOOL)  # noqa: SIM115 (closed in close())

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self._buffer.write(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._buffer.seek(0)
            with self._storage._guard("write", self._path):
                self._storage._client().upload_fileobj(
                    self._buffer, self._storage.config.bucket, self._storage._key(self._path)
                )
        finally:
            self._buffer.close()
            super().close()


class S3Storage(Storage):
    """Objects under ``s3://bucket/prefix`` (a boto3 client, made on first use)."""

    kind: ClassVar[str] = "s3"
    config: S3ConnectionConfig

    def __init__(self, name: str, config: S3ConnectionConfig, root: Path) -> None:
        super().__init__(name, config)
        self._s3: Any = None
        self._credentials: Any = None
        self._region: str | None = None

    def url(self, path: str = "") -> str:
        return f"s3://{self.config.bucket}/{self._key(path)}"

    def ping(self) -> None:
        with self._guard("open", "the bucket"):
            self._client().head_bucket(Bucket=self.config.bucket)

    def close(self) -> None:
        if self._s3 is not None:
            self._s3.close()
            self._s3 = None

    # ------------------------------------------------------------------ the client
    def _client(self) -> Any:
        if self._s3 is None:
            import boto3
            import botocore
            from botocore.config import Config

            cfg = self.config
            try:
                session = boto3.session.Session(
                    aws_access_key_id=cfg.access_key_id,
                    aws_secret_access_key=cfg.secret_access_key,
                    aws_session_token=cfg.session_token,
                    region_name=cfg.region,
                    profile_name=cfg.profile,
                )
            except botocore.exceptions.ProfileNotFound as exc:
                raise StorageConnectionError(
                    f"connection '{self.name}': {exc}", hint="fix `profile` of this connection"
                ) from None
            credentials = session.get_credentials()
            self._credentials = credentials.get_frozen_credentials() if credentials else None
            self._region = session.region_name or "us-east-1"
            options: dict[str, Any] = {
                "connect_timeout": cfg.connect_timeout,
                "read_timeout": cfg.read_timeout,
                "retries": {"total_max_attempts": cfg.retries + 1, "mode": "standard"},
                "s3": {"addressing_style": "path" if cfg.uses_path_style else "virtual"},
            }
            if self._credentials is None:  # no credentials anywhere: anonymous requests
                options["signature_version"] = botocore.UNSIGNED
            self._s3 = session.client(
                "s3",
                region_name=self._region,
                endpoint_url=cfg.endpoint_url,
                config=Config(**options),
            )
        return self._s3

    def _key(self, path: str) -> str:
        return self.config.prefix + path

    # ------------------------------------------------------------------ primitives
    def _list(self, prefix: str) -> Iterable[str]:
        pages = self._client().get_paginator("list_objects_v2")
        skip = len(self.config.prefix)
        found = []
        for page in pages.paginate(Bucket=self.config.bucket, Prefix=self._key(prefix)):
            for item in page.get("Contents", ()):
                key = item["Key"]
                if not key.endswith("/"):  # folder markers are not files
                    found.append(key[skip:])
        return found

    def _exists(self, path: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client().head_object(Bucket=self.config.bucket, Key=self._key(path))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def _read(self, path: str) -> bytes:
        reply = self._client().get_object(Bucket=self.config.bucket, Key=self._key(path))
        return cast("bytes", reply["Body"].read())

    def _write(self, path: str, data: bytes) -> None:
        self._client().put_object(Bucket=self.config.bucket, Key=self._key(path), Body=data)

    def _open_read(self, path: str) -> IO[bytes]:
        reply = self._client().get_object(Bucket=self.config.bucket, Key=self._key(path))
        return cast("IO[bytes]", io.BufferedReader(_BodyReader(reply["Body"])))

    def _open_write(self, path: str) -> IO[bytes]:
        self._client()
        return cast("IO[bytes]", io.BufferedWriter(_Uploader(self, path)))

    def _delete(self, path: str) -> None:
        self._client().delete_object(Bucket=self.config.bucket, Key=self._key(path))

    # ------------------------------------------------------------------ errors
    def _translate(self, exc: Exception, action: str, path: str) -> InterlaceError:
        from botocore.exceptions import (
            ClientError,
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
            ReadTimeoutError,
        )

        cfg = self.config
        where = cfg.endpoint_url or "S3"
        first = f"connection '{self.name}'"
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "NoSuchBucket":
                return self._no_bucket()
            if code in _DENIED or status == 403:
                return self._denied(code or "403 Forbidden")
            if code in ("NoSuchKey", "404", "NotFound"):
                if action == "open":
                    return self._no_bucket()
                return self._not_found(path)
            return StorageError(
                f"{first}: cannot {action} {path!r} at {self.url()}: {code}: "
                f"{error.get('Message', exc)}",
                hint="check the connection's settings and the bucket's permissions",
            )
        if isinstance(exc, ConnectTimeoutError | EndpointConnectionError | ConnectionClosedError):
            return StorageConnectionError(
                f"{first}: cannot reach {where} within {cfg.connect_timeout:g}s "
                f"({cfg.retries + 1} attempts): {exc}",
                hint="check `endpoint_url` and `region`, and that the server is running",
            )
        if isinstance(exc, ReadTimeoutError):
            return StorageConnectionError(
                f"{first}: {where} did not answer within {cfg.read_timeout:g}s: {exc}",
                hint="raise `read_timeout`, or check the server",
            )
        return super()._translate(exc, action, path)

    def _no_bucket(self) -> StorageConnectionError:
        return StorageConnectionError(
            f"connection '{self.name}': bucket '{self.config.bucket}' does not exist"
            + (f" at {self.config.endpoint_url}" if self.config.endpoint_url else ""),
            hint="create the bucket, or fix `bucket` (and `endpoint_url`/`region`)",
        )

    def _denied(self, code: str) -> StorageConnectionError:
        return StorageConnectionError(
            f"connection '{self.name}': S3 refused the request to bucket "
            f"'{self.config.bucket}' ({code}): the credentials are wrong or lack permission",
            hint="check `access_key_id`/`secret_access_key` of this connection (or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and the bucket's policy",
        )

    def _engine_error(self, exc: Exception, action: str) -> InterlaceError:
        text = str(exc)
        if "NoSuchBucket" in text:
            return self._no_bucket()
        if re.search(r"\b403\b|Forbidden|SignatureDoesNotMatch|InvalidAccessKeyId", text):
            code = next(
                (c for c in ("SignatureDoesNotMatch", "InvalidAccessKeyId") if c in text),
                "403 Forbidden",
            )
            return self._denied(code)
        if re.search(r"Could not (establish connection|resolve hostname)|timed? ?out", text, re.I):
            return StorageConnectionError(
                f"connection '{self.name}': cannot reach {self.config.endpoint_url or 'S3'} "
                f"to {action}: {text.strip().splitlines()[0]}",
                hint="check `endpoint_url` and `region`, and that the server is running",
            )
        return super()._engine_error(exc, action)

    # ------------------------------------------------------------------ engine bridge
    def configure_session(self, session: Session) -> None:
        """Load httpfs and give the session a secret (and timeouts) for this bucket."""
        engine_io.require_duckdb(session, self.name, "read or write S3 files in the engine")
        self._client()  # resolves credentials and region
        engine_io.load_httpfs(session)
        cfg = self.config
        lit = engine_io.literal
        params = ["TYPE s3", f"REGION {lit(self._region or 'us-east-1')}"]
        if self._credentials is not None:
            params.append(f"KEY_ID {lit(self._credentials.access_key)}")
            params.append(f"SECRET {lit(self._credentials.secret_key)}")
            if self._credentials.token:
                params.append(f"SESSION_TOKEN {lit(self._credentials.token)}")
        if cfg.endpoint_url:
            parts = urlsplit(
                cfg.endpoint_url if "://" in cfg.endpoint_url else f"https://{cfg.endpoint_url}"
            )
            params.append(f"ENDPOINT {lit(parts.netloc)}")
            params.append(f"USE_SSL {'true' if parts.scheme == 'https' else 'false'}")
        params.append(f"URL_STYLE {lit('path' if cfg.uses_path_style else 'vhost')}")
        params.append(f"SCOPE {lit(f's3://{cfg.bucket}/{cfg.prefix}')}")
        secret = "interlace_s3_" + re.sub(r"\W", "_", self.name)
        session.execute(f"CREATE OR REPLACE SECRET {secret} ({', '.join(params)})")
        session.execute(f"SET SESSION http_timeout = {math.ceil(cfg.read_timeout)}")
        session.execute(f"SET SESSION http_retries = {cfg.retries}")

    @contextmanager
    def _engine_sources(
        self, session: Session, paths: list[str]
    ) -> Iterator[tuple[list[str], bool]]:
        self.configure_session(session)
        yield [self.url(p) for p in paths], False

    @contextmanager
    def _engine_target(self, session: Session, path: str) -> Iterator[str]:
        if session.dialect != "duckdb":  # the engine writes a local file; upload it after
            folder = Path(tempfile.mkdtemp(prefix="interlace_s3_"))
            try:
                local = folder / posixpath.basename(path)
                yield str(local)
                with (
                    self._guard("write", path),
                    local.open("rb") as source,
                    self._open_write(path) as target,
                ):
                    shutil.copyfileobj(source, target, 1 << 20)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            return
        self.configure_session(session)
        yield self.url(path)  # an S3 upload appears whole when it completes
