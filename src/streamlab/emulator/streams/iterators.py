"""Shard iterators that cost no memory: the iterator string carries its own state, signed.

AWS's rules: an iterator "expires 15 minutes after it is returned to the requester"
(GetShardIterator); until then it may be used again and again (GetRecords does not consume it;
a poller that retries a batch re-reads from the same one); afterwards GetRecords answers
ExpiredIteratorException. A store of live iterators cannot stay small under those rules (a
poller at 4 polls a second holds 3,600 live ones at any moment), so nothing is stored.

An iterator is ``<stream ARN>|1|<token>``, the shape AWS's have (LocalStack's AWS-validated
``test_dynamodb_streams_shard_iterator_format``), where the token is the shard id, the position
(the sequence number of the next record GetRecords may return) and the issue time, followed by
an HMAC-SHA256 tag under a key of the store that issued it. A forged, garbled or foreign iterator
is a ValidationException.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from streamlab.aws_rules import SHARD_ITERATOR_TTL_SECONDS
from streamlab.emulator.streams.errors import ValidationError

ITERATOR_TTL_MS = SHARD_ITERATOR_TTL_SECONDS * 1000
_TAG_BYTES = 16


def invalid_iterator() -> ValidationError:
    return ValidationError("Invalid ShardIterator")


@dataclass(frozen=True)
class IteratorState:
    stream_arn: str
    shard_id: str
    position: int
    issued_ms: int

    def is_expired(self, now_ms: int) -> bool:
        return now_ms >= self.issued_ms + ITERATOR_TTL_MS


class IteratorCodec:
    """Encodes and checks iterators under one random key (one per store, so per process)."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def _tag(self, stream_arn: str, body: bytes) -> bytes:
        return hmac.new(self._key, stream_arn.encode() + b"|" + body, hashlib.sha256).digest()[:_TAG_BYTES]

    def encode(self, state: IteratorState) -> str:
        body = f"{state.shard_id}|{state.position}|{state.issued_ms}".encode()
        token = base64.urlsafe_b64encode(body + self._tag(state.stream_arn, body)).decode().rstrip("=")
        return f"{state.stream_arn}|1|{token}"

    def decode(self, iterator: object) -> IteratorState:
        parts = iterator.split("|") if isinstance(iterator, str) else []
        if len(parts) != 3 or parts[1] != "1":
            raise invalid_iterator()
        stream_arn, _, token = parts
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise invalid_iterator() from None
        body, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
        if len(raw) <= _TAG_BYTES or not hmac.compare_digest(tag, self._tag(stream_arn, body)):
            raise invalid_iterator()
        shard_id, position, issued_ms = body.decode().split("|")
        return IteratorState(stream_arn, shard_id, int(position), int(issued_ms))
