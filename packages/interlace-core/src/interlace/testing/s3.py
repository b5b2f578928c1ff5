"""A real S3-compatible server for tests: moto's server mode on loopback, spoken to over HTTP.

moto keeps its backends and its authentication switch per *process*, so two servers started in
one test process share buckets, IAM users and whether signatures are checked. :func:`s3_server`
therefore starts one server per process and hands the same one to every caller. Authentication
is on: requests must be signed with the keys of the IAM user it creates, so wrong credentials are
really refused. Example (a conftest)::

    @pytest.fixture(scope="session")
    def s3() -> S3Server:
        return s3_server()

    def test_reads_a_bucket(s3: S3Server) -> None:
        bucket = s3.new_bucket()
        s3.client().put_object(Bucket=bucket, Key="a.csv", Body=b"id\\n1\\n")

moto and boto3 are imported when the server starts (they are test dependencies).
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

REGION = "us-east-1"

_LOCK = threading.Lock()
_SERVER: S3Server | None = None


@dataclass(frozen=True)
class S3Server:
    """Where the server listens and the keys of its full-access user."""

    endpoint: str
    key_id: str
    secret: str
    region: str = REGION

    def client(self, secret: str | None = None) -> Any:
        """A boto3 S3 client signed with the user's keys (or with ``secret`` to test refusals)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=secret or self.secret,
        )

    def new_bucket(self, prefix: str = "bkt") -> str:
        """Create a bucket with a unique name and return the name."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name


def s3_server() -> S3Server:
    """The process's S3 server, started on first use on 127.0.0.1 (random port)."""
    global _SERVER
    with _LOCK:
        if _SERVER is None:
            _SERVER = _start()
        return _SERVER


def _start() -> S3Server:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    atexit.register(server.stop)
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
    )
    user = f"interlace-test-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    policy = iam.create_policy(
        PolicyName=f"everything-{user}",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    iam.attach_user_policy(UserName=user, PolicyArn=policy["Policy"]["Arn"])
    key = iam.create_access_key(UserName=user)["AccessKey"]
    # from now on moto checks every request's signature
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        if reply.status != 200:
            raise RuntimeError(f"the S3 test server at {endpoint} refused to switch on auth")
    return S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
