"""Every change streamlab makes to moto, in one ordered registry that the endpoint applies.

moto is the backend of most services here, but some of its behaviour differs from AWS's and some
of its server mode costs more than it needs to. Each correction is a function in this package
(one module per topic) that replaces methods on moto's public classes through a
:class:`~streamlab.emulator.moto_patches.patching.Patcher`; nothing installed on disk is edited.

:data:`PATCHES` lists them in the order they are installed, which matters where several wrap the
same method (``StreamShard.add``: the UpdateItem coalescing wraps the stream store's feed). :func:`acquire`
installs them when the first endpoint of the process starts and logs each one; :func:`release`
undoes them all when the last one stops, so moto is unchanged again for ``mock_aws`` users of the
same process. ``compat=False`` leaves moto's behaviour unpatched (speed-ups only), so a defect can
be reproduced, and a benchmark's baseline measured, against plain moto.

DynamoDB Streams itself is not moto's here: the tables feed streamlab's stream store
(:mod:`.streams`, :func:`stream_store`), which the gateway serves; the store's maintenance
(retention, shard rotation) runs while the patches are held. :mod:`.dispatch` (how requests
reach moto) is used directly by the gateway.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from streamlab.emulator.moto_patches import (
    dynamodb,
    dynamodb_input,
    iam,
    kinesis,
    logs,
    memory,
    partiql,
    query,
    s3,
    serialization,
    sns,
    speedups,
    sqs,
    sqs_moves,
    streams,
    transactions,
)
from streamlab.emulator.moto_patches.patching import Patcher
from streamlab.emulator.moto_patches.streams import kinesis_destinations, stream_store

__all__ = ["PATCHES", "Patch", "acquire", "active_patches", "kinesis_destinations", "release", "stream_store"]

log = logging.getLogger(__name__)

PatchKind = Literal["compat", "speed"]


@dataclass(frozen=True)
class Patch:
    name: str
    kind: PatchKind
    install: Callable[[Patcher], None]

    @property
    def summary(self) -> str:
        return (self.install.__doc__ or self.name).strip().splitlines()[0]


def _compat(install: Callable[[Patcher], None]) -> Patch:
    return Patch(install.__name__, "compat", install)


def _speed(install: Callable[[Patcher], None]) -> Patch:
    return Patch(install.__name__, "speed", install)


#: Installed first to last (undone last to first).
PATCHES: tuple[Patch, ...] = (
    # StreamShard.add is replaced by the feed, then wrapped by the UpdateItem coalescing, so the
    # single record an UpdateItem writes at its end goes to the store through the feed.
    _compat(streams.feed_the_stream_store),
    _compat(streams.allow_reenabling_a_disabled_stream),
    _compat(streams.emit_one_record_per_update_item),
    _compat(partiql.accept_number_literals_in_updates),
    _compat(dynamodb.answer_create_table_like_aws),
    _compat(dynamodb.answer_writes_with_what_was_asked),
    _compat(dynamodb.forget_items_once_replaced),
    _compat(sqs.keep_queue_policy_unless_set),
    _compat(sqs.fifo_sequence_numbers),
    _compat(kinesis.serialize_shard_records),
    _compat(sqs_moves.add_message_move_tasks),
    _compat(sns.sign_and_address_notifications_like_aws),
    _compat(sns.push_lambda_subscriptions_to_streamlab),
    _compat(logs.bound_log_groups),
    _compat(dynamodb_input.update_without_changes_writes_the_key),
    _compat(dynamodb_input.expression_syntax_errors_are_validation_errors),
    _compat(dynamodb_input.check_exclusive_start_keys),
    _compat(transactions.write_only_the_touched_items),
    _compat(transactions.check_transaction_shape_and_tokens),
    _compat(iam.create_aws_managed_policies),
    _compat(s3.skip_bucket_policy_statements_with_conditions),
    _compat(s3.push_notifications_to_streamlab_lambda),
    _compat(s3.check_lambda_notification_destinations),
    _speed(speedups.cache_response_method_names),
    _speed(speedups.look_up_existing_backends_without_the_lock),
    _speed(serialization.serialize_dynamodb_results_by_member_name),
    _speed(query.query_only_the_partition),
    # Not a speed-up but, like one, no change to behaviour: moto keeps fewer dead objects.
    _speed(memory.stop_tracking_per_request_models),
)

_lock = threading.Lock()
_users = 0
_patcher: Patcher | None = None
_installed: tuple[Patch, ...] = ()


def acquire(*, compat: bool = True) -> tuple[Patch, ...]:
    """Install the patches unless an endpoint of this process already has; returns those active.

    Every call must be matched by one :func:`release`. The first caller's ``compat`` decides.
    """
    global _users, _patcher, _installed
    with _lock:
        _users += 1
        if _patcher is None:
            _patcher = Patcher()
            _installed = tuple(p for p in PATCHES if compat or p.kind == "speed")
            for patch in _installed:
                patch.install(_patcher)
                log.debug("moto patch %s (%s): %s", patch.name, patch.kind, patch.summary)
            if compat:
                stream_store().start()
            skipped = len(PATCHES) - len(_installed)
            log.info("moto patched: %d changes%s", len(_installed), f", {skipped} compat fixes off" if skipped else "")
        return _installed


def release() -> None:
    """Undo every patch once the last endpoint that acquired them has released them."""
    global _users, _patcher, _installed
    with _lock:
        if _users == 0:
            return
        _users -= 1
        if _users == 0 and _patcher is not None:
            stream_store().stop()
            _patcher.undo()
            _patcher, _installed = None, ()
            log.info("moto patches undone")


def active_patches() -> tuple[Patch, ...]:
    """The patches installed right now (empty when no endpoint holds them)."""
    return _installed
