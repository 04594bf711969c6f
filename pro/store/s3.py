"""The backend for S3 and S3-compatible stores (MinIO, Ceph RGW, …) through boto3.

Credentials come only from boto3's standard chain (environment, ``AWS_PROFILE`` and the
shared files, web identity/IRSA, instance metadata); they are never read, stored or printed
here.  Transfers go through s3transfer with :class:`boto3.s3.transfer.TransferConfig`.  Uploads send
files by name (parts read in parallel, nothing buffered) while another thread hashes each file; a file
whose size, mtime, ctime or inode changed meanwhile is refused, so the sha256 recorded is of the bytes
sent.  Downloads stream through a sha256 hasher, in order, so each byte is written once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import boto3
import botocore.exceptions as bce
from boto3.s3.transfer import TransferConfig, create_transfer_manager
from botocore.config import Config
from s3transfer.exceptions import RetriesExceededError
from s3transfer.subscribers import BaseSubscriber

from pro.store.backend import Download, ObjectInfo, OnUploaded, Upload
from pro.store.config import StoreConfig
from pro.store.errors import PreconditionFailed, StoreError, os_transient, too_large
from pro.store.hashing import HashingWriter, OnBytes, hash_file
from pro.store.uri import Location

_AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "403",
        "Forbidden",
    }
)
_REGION_CODES = frozenset(
    {"AuthorizationHeaderMalformed", "PermanentRedirect", "301", "IllegalLocationConstraintException"}
)
#: answers that a retry can outlive (besides any 5xx): throttling, timeouts, conflicts in flight
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "OperationAborted",
        "InternalError",
        "ServiceUnavailable",
        "429",
    }
)

#: files in flight at once (each holds an open file)
BATCH = 128
#: threads hashing the files being uploaded
HASHERS = 4

_CHAIN_ENV = (
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_DEFAULT_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
)
_clients: dict[tuple[Any, ...], Any] = {}
_clients_lock = threading.Lock()


def make_client(config: StoreConfig) -> Any:
    """A boto3 S3 client (cached per settings; boto3 clients are thread-safe)."""
    region = config.region or os.environ.get("AWS_REGION") or None
    style = config.resolved_addressing_style()
    # a new client when the environment of the standard chain changes (hashed: no secret kept)
    chain = hashlib.sha256("\0".join(os.environ.get(v, "") for v in _CHAIN_ENV).encode()).hexdigest()
    key = (config.endpoint_url, region, style, config.max_concurrency, chain)
    with _clients_lock:
        if key not in _clients:
            try:
                session = boto3.session.Session()
            except bce.ProfileNotFound as err:
                raise StoreError(
                    f"AWS profile {os.environ.get('AWS_PROFILE')!r} not found: fix AWS_PROFILE or ~/.aws/config"
                ) from err
            botocore_config = Config(
                s3={"addressing_style": style} if style else None,  # type: ignore[arg-type]
                max_pool_connections=max(10, config.max_concurrency + 4),
            )
            _clients[key] = session.client(
                "s3", endpoint_url=config.endpoint_url, region_name=region, config=botocore_config
            )
        return _clients[key]


def transient_answer(err: bce.ClientError) -> bool:
    """An S3 error answer that a retry can outlive: a 5xx, throttling or a timeout (other 4xx are not)."""
    code = str(err.response.get("Error", {}).get("Code", ""))
    status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return code in _TRANSIENT_CODES or status >= 500 or status == 429


@contextlib.contextmanager
def s3_errors(uri: str, endpoint: str, what: str) -> Iterator[None]:
    """Turn the expected failures of a request on ``uri`` into one-line StoreErrors that say what to fix
    and whether a retry can help (``what``: the operation, e.g. "list"; the message never holds a
    credential: an endpoint's ``user:secret@`` is redacted)."""
    bucket = uri[len("s3://") :].partition("/")[0]
    try:
        yield
    except bce.NoCredentialsError as err:
        raise StoreError(
            f"no AWS credentials found for {uri}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE, or a web identity (IRSA)"
        ) from err
    except bce.PartialCredentialsError as err:
        raise StoreError(
            f"incomplete AWS credentials for {uri}: {err.kwargs.get('cred_var')} is missing"
        ) from err
    except bce.SSLError as err:
        raise StoreError(
            f"TLS failed with the S3 endpoint {endpoint} ({what} {uri}): check its certificate, "
            "AWS_CA_BUNDLE and --endpoint-url"
        ) from err
    except bce.ConnectionError as err:
        raise StoreError(
            f"cannot reach the S3 endpoint {endpoint} ({what} {uri}): check --endpoint-url, "
            "AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 and the network",
            transient=True,
        ) from err
    except (bce.HTTPClientError, RetriesExceededError) as err:
        raise StoreError(
            f"the connection to the S3 endpoint {endpoint} failed during {what} {uri} "
            f"({err.__class__.__name__}); retry",
            transient=True,
        ) from err
    except bce.ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", "Unknown"))
        if code == "NoSuchBucket":
            raise StoreError(
                f"bucket {bucket!r} does not exist at {endpoint}: create it, or fix the bucket in {uri}"
            ) from err
        if code in _AUTH_CODES:
            raise StoreError(
                f"access denied ({code}) on {what} {uri}: check the AWS credentials "
                "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or web identity) "
                "and that they may use this bucket"
            ) from err
        if code in _REGION_CODES:
            raise StoreError(
                f"bucket {bucket!r} is in another region ({code}): set --region or AWS_REGION"
            ) from err
        transient = transient_answer(err)
        hint = "; retry later" if transient else ""
        raise StoreError(f"S3 error {code} on {what} {uri} at {endpoint}{hint}", transient=transient) from err


class _KnownSize(BaseSubscriber):
    """Tells s3transfer the size up front (no HEAD, and non-seekable streams plan their parts)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self.size)


class _Progress(BaseSubscriber):
    """Reports the bytes sent to a progress callback."""

    def __init__(self, on_bytes: OnBytes) -> None:
        self.on_bytes = on_bytes

    def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
        self.on_bytes(bytes_transferred)


def _unreadable(item: Upload, err: OSError) -> StoreError:
    return StoreError(f"cannot read {item.source}: {err.strerror}", transient=os_transient(err))


def _identity(path: Path) -> tuple[int, int, int, int]:
    """What changes whenever a file's bytes do (ctime cannot be set back)."""
    st = os.stat(path)
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


class S3Backend:
    """Objects under ``s3://bucket/prefix``."""

    def __init__(self, location: Location, config: StoreConfig) -> None:
        self.location = location
        self.bucket = location.bucket
        self.client = make_client(config)
        self.transfer_config = TransferConfig(
            multipart_threshold=config.threshold_bytes,
            multipart_chunksize=config.chunk_bytes,
            max_concurrency=max(1, config.max_concurrency),
            preferred_transfer_client="classic",
        )

    @property
    def endpoint(self) -> str:
        return str(self.client.meta.endpoint_url)

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        with s3_errors(self.location.uri, self.endpoint, what):
            yield

    def _key(self, rel: str) -> str:
        return self.location.key(rel)

    def list(self) -> dict[str, ObjectInfo]:
        prefix = f"{self.location.prefix}/" if self.location.prefix else ""
        out: dict[str, ObjectInfo] = {}
        with self._errors("list"):
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                for obj in page.get("Contents", []):
                    rel = obj["Key"][len(prefix) :]
                    if rel and not rel.endswith("/"):
                        out[rel] = ObjectInfo(size=int(obj["Size"]), etag=str(obj.get("ETag", "")).strip('"'))
        return out

    def read(self, rel: str, *, max_bytes: int | None = None) -> bytes | None:
        with self._errors("read"):
            try:
                got = self.client.get_object(Bucket=self.bucket, Key=self._key(rel))
            except bce.ClientError as err:
                if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise
            body = got["Body"]
            size = int(got.get("ContentLength", 0))
            if max_bytes is not None and size > max_bytes:
                body.close()  # not read: the connection is dropped instead
                raise too_large(f"{self.location.uri}/{rel}", size, max_bytes)
            data: bytes = body.read()
        return data

    def write(self, rel: str, data: bytes) -> None:
        with self._errors("write"):
            self.client.put_object(Bucket=self.bucket, Key=self._key(rel), Body=data)

    def read_tagged(self, rel: str) -> tuple[bytes, str] | None:
        with self._errors("read"):
            try:
                got = self.client.get_object(Bucket=self.bucket, Key=self._key(rel))
            except bce.ClientError as err:
                if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise
            return got["Body"].read(), str(got["ETag"]).strip('"')

    def write_if(self, rel: str, data: bytes, *, etag: str | None) -> str:
        condition = {"IfNoneMatch": "*"} if etag is None else {"IfMatch": f'"{etag}"'}
        with self._errors("write"):
            try:
                put = self.client.put_object(Bucket=self.bucket, Key=self._key(rel), Body=data, **condition)
            except bce.ClientError as err:
                code = str(err.response.get("Error", {}).get("Code"))
                if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                    raise PreconditionFailed(
                        f"{self.location.uri}/{rel} changed since it was read (expected "
                        f"{'no object' if etag is None else 'ETag ' + etag}); read it again"
                    ) from None
                raise
            return str(put["ETag"]).strip('"')

    def upload(self, items: Sequence[Upload], on_done: OnUploaded, on_bytes: OnBytes | None) -> None:
        for i in range(0, len(items), BATCH):  # bounds the open files
            self._upload_batch(items[i : i + BATCH], on_done, on_bytes)

    def _upload_batch(self, items: Sequence[Upload], on_done: OnUploaded, on_bytes: OnBytes | None) -> None:
        subscribers = [] if on_bytes is None else [_Progress(on_bytes)]
        with (
            self._errors("upload to"),
            create_transfer_manager(self.client, self.transfer_config) as manager,
            ThreadPoolExecutor(HASHERS) as hashers,
        ):
            jobs = []
            for item in items:
                try:
                    before = _identity(item.source)
                except OSError as err:
                    raise _unreadable(item, err) from err
                digest = hashers.submit(hash_file, item.source)
                future = manager.upload(
                    str(item.source), self.bucket, self._key(item.rel), subscribers=subscribers
                )
                jobs.append((item, before, digest, future))
            for item, before, digest, future in jobs:
                try:
                    future.result()
                    sha, size = digest.result()
                    same = size == item.size and _identity(item.source) == before
                except FileNotFoundError as err:
                    raise _unreadable(item, err) from err
                if not same:
                    raise StoreError(
                        f"{item.source} changed while it was uploaded; put it again once it is complete",
                        transient=True,
                    )
                head = self.client.head_object(Bucket=self.bucket, Key=self._key(item.rel))
                on_done(item, sha, ObjectInfo(int(head["ContentLength"]), head["ETag"].strip('"')))

    def download(self, items: Sequence[Download], on_bytes: OnBytes | None) -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        for i in range(0, len(items), BATCH):  # bounds the open files
            out.update(self._download_batch(items[i : i + BATCH], on_bytes))
        return out

    def _download_batch(
        self, items: Sequence[Download], on_bytes: OnBytes | None
    ) -> dict[str, tuple[str, int]]:
        with self._errors("download from"), contextlib.ExitStack() as stack:
            manager = stack.enter_context(create_transfer_manager(self.client, self.transfer_config))
            jobs = []
            for item in items:
                if item.target is None:
                    sink: Any = _Discard()
                else:
                    item.target.parent.mkdir(parents=True, exist_ok=True)
                    sink = stack.enter_context(item.target.open("wb"))
                writer = HashingWriter(sink, on_bytes)
                future = manager.download(
                    self.bucket, self._key(item.rel), cast(Any, writer), subscribers=[_KnownSize(item.size)]
                )
                jobs.append((item, writer, future))
            out = {}
            for item, writer, future in jobs:
                future.result()
                out[item.rel] = (writer.hash.hexdigest(), writer.size)
            return out

    def delete(self, rels: Sequence[str]) -> None:
        keys = [self._key(r) for r in rels]
        with self._errors("delete from"):
            for i in range(0, len(keys), 1000):
                batch = [{"Key": k} for k in keys[i : i + 1000]]
                resp = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
                errors = [e for e in resp.get("Errors", []) if e.get("Code") != "NoSuchKey"]
                if errors:
                    raise StoreError(
                        f"could not delete {len(errors)} objects under {self.location.uri} "
                        f"(first: {errors[0].get('Key')}: {errors[0].get('Code')}); check permissions and retry"
                    )
