"""``type: sftp``: a folder on an SFTP server, reached over SSH with paramiko.

The server's host key is checked before anything is sent: against ``known_hosts`` (default
``~/.ssh/known_hosts``) and/or a pinned ``host_key``. An unknown host or a key that differs
from the recorded one stops the connection with an error that says which, and how to fix it.
Every network step is bounded: ``connect_timeout`` for TCP, the SSH handshake and the login,
``timeout`` for each file operation.
"""

from __future__ import annotations

import base64
import binascii
import io
import posixpath
import shutil
import socket
import stat
import tempfile
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from interlace.errors import InterlaceError

from interlace_connections.storage.base import Storage, StorageConnectionError
from interlace_connections.storage.paths import StorageError, folder_of, join

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import IO

    from interlace.engines.base import Session

    from interlace_connections.storage.config import SFTPConnectionConfig


class _UnknownHostKey(Exception):
    def __init__(self, key: Any) -> None:
        super().__init__("unknown host key")
        self.key = key


def _parse_host_key(text: str, name: str) -> Any:
    """A paramiko key from ``"ssh-ed25519 AAAA... [comment]"``."""
    import paramiko

    parts = text.split()
    try:
        if len(parts) < 2:
            raise ValueError("expected '<type> <base64 key>'")
        return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1]))
    except (ValueError, binascii.Error, paramiko.SSHException) as exc:
        raise StorageConnectionError(
            f"connection '{name}': `host_key` is not an SSH public key: {exc}",
            hint="copy the key line from `ssh-keyscan -p PORT HOST`, e.g. 'ssh-ed25519 AAAA...'",
        ) from None


class SFTPStorage(Storage):
    """Files under ``path`` on an SFTP server (one SSH connection, opened on first use)."""

    kind: ClassVar[str] = "sftp"
    config: SFTPConnectionConfig

    def __init__(self, name: str, config: SFTPConnectionConfig, root: Path) -> None:
        super().__init__(name, config)
        self.root = root
        self._ssh: Any = None
        self._sftp: Any = None
        self._base: str | None = None
        self._lock = threading.RLock()

    def url(self, path: str = "") -> str:
        base = self._base if self._base is not None else self.config.path
        where = posixpath.join(base, path) if path else base
        if not where.startswith("/"):
            where = "/~/" + where.removeprefix("./").removeprefix(".")
        return f"sftp://{self.config.user}@{self.config.host}:{self.config.port}{where}"

    def ping(self) -> None:
        self._client()

    def close(self) -> None:
        with self._lock:
            sftp, ssh = self._sftp, self._ssh
            self._sftp = self._ssh = None
            if sftp is not None:
                sftp.close()
            if ssh is not None:
                ssh.close()

    # ------------------------------------------------------------------ connecting
    def _client(self) -> Any:
        """The SFTP session, connecting (again) when needed."""
        with self._lock:
            transport = self._ssh.get_transport() if self._ssh is not None else None
            if self._sftp is not None and transport is not None and transport.is_active():
                return self._sftp
            self.close()
            self._ssh, self._sftp = self._connect()
            home = self._sftp.normalize(".")
            self._base = posixpath.normpath(posixpath.join(home, self.config.path))
            return self._sftp

    def _connect(self) -> tuple[Any, Any]:
        import paramiko

        cfg = self.config
        key = self._load_key()
        ssh = paramiko.SSHClient()
        known_hosts = self._host_keys(ssh)
        try:
            ssh.connect(
                cfg.host,
                cfg.port,
                username=cfg.user,
                password=cfg.password,
                pkey=key,
                timeout=cfg.connect_timeout,
                banner_timeout=cfg.connect_timeout,
                auth_timeout=cfg.connect_timeout,
                channel_timeout=cfg.connect_timeout,
                allow_agent=False,
                look_for_keys=False,
            )
            sftp = ssh.open_sftp()
            sftp.get_channel().settimeout(cfg.timeout)
        except Exception as exc:
            transport = ssh.get_transport()
            greeted = bool(transport is not None and transport.remote_version)
            ssh.close()
            raise self._connect_error(exc, known_hosts, greeted) from None
        return ssh, sftp

    def _host_keys(self, ssh: Any) -> str | None:
        """Set up host key checking on ``ssh``; returns the known_hosts file used."""
        import paramiko

        cfg = self.config
        if cfg.host_key_checking == "off":
            ssh.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            return None
        file = Path(cfg.known_hosts or "~/.ssh/known_hosts").expanduser()
        if cfg.known_hosts and not file.is_absolute():
            file = self.root / file
        if not file.exists() and cfg.host_key_checking == "accept_new":
            file.parent.mkdir(parents=True, exist_ok=True)
            file.touch()
        if file.is_file():
            try:
                ssh.load_host_keys(str(file))
            except (OSError, paramiko.SSHException) as exc:
                raise StorageConnectionError(
                    f"connection '{self.name}': cannot read known_hosts file {file}: {exc}",
                    hint="fix `known_hosts` of this connection",
                ) from None
        elif cfg.known_hosts:
            raise StorageConnectionError(
                f"connection '{self.name}': known_hosts file {file} does not exist",
                hint="fix `known_hosts`, or create it: ssh-keyscan -p PORT HOST > FILE",
            )
        if cfg.host_key:
            key = _parse_host_key(cfg.host_key, self.name)
            ssh.get_host_keys().add(self._host_name(), key.get_name(), key)
        if cfg.host_key_checking == "accept_new":
            ssh.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        else:

            class _Reject(paramiko.MissingHostKeyPolicy):  # type: ignore[misc]
                def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
                    raise _UnknownHostKey(key)

            ssh.set_missing_host_key_policy(_Reject())
        return str(file)

    def _load_key(self) -> Any:
        """The private key of ``key_file`` (None without one), with a clear error when it
        cannot be read or its passphrase is wrong."""
        import paramiko

        if self.config.key_file is None:
            return None
        file = Path(self.config.key_file).expanduser()
        file = file if file.is_absolute() else self.root / file
        try:
            password = self.config.key_password
            return paramiko.PKey.from_path(file, password=password.encode() if password else None)
        except paramiko.PasswordRequiredException:
            problem, fix = "it is encrypted", "give its passphrase in `key_password`"
        except TypeError as exc:  # cryptography: "Key is password-protected, but ..."
            encrypted = "password" in str(exc).lower()
            problem = "it is encrypted" if encrypted else str(exc)
            fix = "give its passphrase in `key_password`" if encrypted else "check `key_file`"
        except OSError as exc:
            problem, fix = exc.strerror or str(exc), "fix `key_file` of this connection"
        except (paramiko.SSHException, ValueError) as exc:
            problem = f"{exc} (a wrong `key_password`, or not a private key)"
            fix = "check `key_password` and `key_file` of this connection"
        raise StorageConnectionError(
            f"connection '{self.name}': cannot load key file {file}: {problem}", hint=fix
        )

    def _host_name(self) -> str:
        """The host's name in known_hosts (``[host]:port`` unless the port is 22)."""
        cfg = self.config
        return cfg.host if cfg.port == 22 else f"[{cfg.host}]:{cfg.port}"

    def _connect_error(
        self, exc: Exception, known_hosts: str | None, greeted: bool
    ) -> InterlaceError:
        import paramiko

        cfg = self.config
        where = f"SFTP server {cfg.host}:{cfg.port}"
        first = f"connection '{self.name}'"
        if isinstance(exc, InterlaceError):
            return exc
        if isinstance(exc, _UnknownHostKey):
            return StorageConnectionError(
                f"{first}: the host key of {where} is not known "
                f"({exc.key.get_name()} {exc.key.fingerprint}); refusing to connect",
                hint=f"check the key with the server's owner, then add it to "
                f"{known_hosts or '~/.ssh/known_hosts'} (ssh-keyscan -p {cfg.port} {cfg.host}), "
                "set `host_key`, or set `host_key_checking: accept_new`",
            )
        if isinstance(exc, paramiko.BadHostKeyException):
            return StorageConnectionError(
                f"{first}: HOST KEY MISMATCH for {where}: it presented "
                f"{exc.key.get_name()} {exc.key.fingerprint}, but the recorded key is "
                f"{exc.expected_key.get_name()} {exc.expected_key.fingerprint}. The server's "
                "key changed, or someone is intercepting the connection; nothing was sent",
                hint="if the server's key really changed, replace its line in "
                f"{known_hosts or 'known_hosts'} (ssh-keygen -R '{self._host_name()}') "
                "or update `host_key`",
            )
        if isinstance(exc, paramiko.AuthenticationException):
            how = "key file" if cfg.key_file else "password"
            return StorageConnectionError(
                f"{first}: login to {where} as {cfg.user} failed: {exc}",
                hint=f"check `user` and the {how} of this connection",
            )
        if isinstance(exc, OSError) and not isinstance(exc, TimeoutError | socket.timeout):
            return StorageConnectionError(
                f"{first}: cannot reach {where}: {exc}",
                hint="check `host` and `port`, and that the server is running",
            )
        if isinstance(exc, TimeoutError | socket.timeout | paramiko.SSHException) and not greeted:
            return StorageConnectionError(
                f"{first}: {where} did not answer within {cfg.connect_timeout:g}s",
                hint="check `host` and `port` (is it an SSH server?), or raise `connect_timeout`",
            )
        return StorageConnectionError(
            f"{first}: cannot connect to {where}: {type(exc).__name__}: {exc}",
            hint="check the connection's settings",
        )

    def _translate(self, exc: Exception, action: str, path: str) -> InterlaceError:
        if isinstance(exc, TimeoutError | socket.timeout):
            self.close()  # the channel is in an unknown state: reconnect next time
            return StorageError(
                f"connection '{self.name}': cannot {action} {path!r}: no answer within "
                f"{self.config.timeout:g}s",
                hint="raise `timeout` of this connection, or check the server",
            )
        if isinstance(exc, PermissionError):
            return StorageError(
                f"connection '{self.name}': cannot {action} {path!r}: permission denied "
                f"({self.url(path)})",
                hint="check the permissions of the SFTP user on the server",
            )
        return super()._translate(exc, action, path)

    # ------------------------------------------------------------------ primitives
    def _remote(self, path: str) -> str:
        self._client()
        assert self._base is not None
        return posixpath.join(self._base, path) if path else self._base

    def _list(self, prefix: str) -> Iterable[str]:
        sftp = self._client()
        found: list[str] = []

        def walk(rel: str) -> None:
            try:
                entries = sftp.listdir_attr(self._remote(rel))
            except FileNotFoundError:
                return
            for entry in sorted(entries, key=lambda e: e.filename):
                child = join(rel, entry.filename)
                mode = entry.st_mode or 0
                if stat.S_ISLNK(mode):  # follow links to files, never into folders
                    try:
                        mode = sftp.stat(self._remote(child)).st_mode or 0
                    except OSError:
                        continue
                    if stat.S_ISREG(mode) and child.startswith(prefix):
                        found.append(child)
                elif stat.S_ISDIR(mode):
                    if child.startswith(prefix) or prefix.startswith(child + "/"):
                        walk(child)
                elif (
                    stat.S_ISREG(mode)
                    and child.startswith(prefix)
                    and not (entry.filename.startswith(".") and child.endswith(".partial"))
                ):
                    found.append(child)

        walk(folder_of(prefix))
        return found

    def _exists(self, path: str) -> bool:
        try:
            return stat.S_ISREG(self._client().stat(self._remote(path)).st_mode or 0)
        except FileNotFoundError:
            return False

    def _read(self, path: str) -> bytes:
        with self._client().open(self._remote(path), "rb") as file:
            file.prefetch()
            return cast("bytes", file.read())

    def _write(self, path: str, data: bytes) -> None:
        self._upload(path, lambda sftp, remote: sftp.putfo(io.BytesIO(data), remote))

    def _open_read(self, path: str) -> IO[bytes]:
        file = self._client().open(self._remote(path), "rb")
        file.prefetch()
        return cast("IO[bytes]", file)

    def _open_write(self, path: str) -> IO[bytes]:
        sftp = self._client()
        remote = self._remote(path)
        self._makedirs(posixpath.dirname(remote))
        return cast("IO[bytes]", sftp.open(remote, "wb"))

    def _delete(self, path: str) -> None:
        self._client().remove(self._remote(path))

    def _makedirs(self, remote_folder: str) -> None:
        sftp = self._client()
        missing: list[str] = []
        folder = remote_folder
        while folder not in ("", "/"):
            try:
                if not stat.S_ISDIR(sftp.stat(folder).st_mode or 0):
                    raise StorageError(
                        f"connection '{self.name}': {folder} on the server is not a folder"
                    )
                break
            except FileNotFoundError:
                missing.append(folder)
                folder = posixpath.dirname(folder)
        for each in reversed(missing):
            sftp.mkdir(each)

    def _upload(self, path: str, send: Any) -> None:
        """Send a file under a temporary name, then rename it into place (never half a file)."""
        sftp = self._client()
        remote = self._remote(path)
        folder, name = posixpath.split(remote)
        self._makedirs(folder)
        partial = posixpath.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            send(sftp, partial)
            try:
                sftp.posix_rename(partial, remote)
            except OSError:  # servers without the posix-rename extension
                if self._exists(path):
                    sftp.remove(remote)
                sftp.rename(partial, remote)
        except BaseException:
            try:
                sftp.remove(partial)
            except OSError:
                pass
            raise

    # ------------------------------------------------------------------ engine bridge
    @contextmanager
    def _engine_sources(
        self, session: Session, paths: list[str]
    ) -> Iterator[tuple[list[str], bool]]:
        folder = Path(tempfile.mkdtemp(prefix="interlace_sftp_"))
        try:
            local = []
            for path in paths:
                target = folder / path  # keeps folders, so hive partitions still read
                target.parent.mkdir(parents=True, exist_ok=True)
                with self._guard("read", path):
                    self._client().get(self._remote(path), str(target))
                local.append(str(target))
            yield local, True
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @contextmanager
    def _engine_target(self, session: Session, path: str) -> Iterator[str]:
        folder = Path(tempfile.mkdtemp(prefix="interlace_sftp_"))
        try:
            local = folder / posixpath.basename(path)
            yield str(local)
            with self._guard("write", path):
                self._upload(path, lambda sftp, remote: sftp.put(str(local), remote))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
