"""One shard's processing: records -> lanes -> batches -> invoke -> checkpoint / destination / window.

The worker (:mod:`.worker`) reads the shard and hands records to :meth:`ShardPipeline.feed`;
everything after that runs on the pipeline's lane threads (:mod:`.parallel`). The pipeline
sees its mapping only through a :class:`~.context.PipelineContext` (config, invoke,
checkpoints, destination, telemetry, counters), so it works the same for every stream source:

- the batcher applies the filter, BatchSize, the batching window and the payload cap;
- :class:`~.invoker.BatchDelivery` invokes, retries, bisects, honours partial batch responses and
  record age;
- processed, filtered and discarded records complete in :class:`~.checkpoint.ShardProgress`,
  whose contiguous prefix becomes the shard's checkpoint;
- discarded records produce the on-failure record (:mod:`.destinations`);
- with TumblingWindowInSeconds the event is wrapped with the window and its state
  (:mod:`.windows`), a final invocation closes each window, and the shard uses one lane.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from streamlab.aws_rules import (
    GET_RECORDS_LIMIT,
    MAX_INVOKE_PAYLOAD_BYTES,
    MAX_WINDOW_STATE_BYTES,
    BatchOutcome,
    ProcessingResult,
)
from streamlab.emulator.esm.batcher import Batcher
from streamlab.emulator.esm.checkpoint import ShardProgress
from streamlab.emulator.esm.context import PipelineContext
from streamlab.emulator.esm.destinations import failure_record
from streamlab.emulator.esm.invoker import BatchDelivery, RetryPolicy, Verdict, judge
from streamlab.emulator.esm.metrics import batch_invoked
from streamlab.emulator.esm.parallel import Lane, group_by_lane, lane_for_key
from streamlab.emulator.esm.poller import ShardCursor
from streamlab.emulator.esm.records import StreamRecord, encode_json, event_payload
from streamlab.emulator.esm.windows import TumblingWindow
from streamlab.emulator.telemetry import (
    InvokeOutcome,
    RecordsDiscarded,
    RecordsFiltered,
    RecordsRead,
)

log = logging.getLogger(__name__)


class ShardPipeline:
    """One shard of one run: its cursor, progress and lanes."""

    def __init__(self, context: PipelineContext, shard_id: str, cursor: ShardCursor) -> None:
        self.context = context
        self.shard_id = shard_id
        self.cursor = cursor
        self.progress = ShardProgress()
        self.run_stop = threading.Event()  # set when the shard, the run or the worker stops
        config = context.config
        self.window: TumblingWindow | None = None
        lanes = config.parallelization_factor
        if config.tumbling_window > 0:
            lanes = 1  # one state per shard: its batches go one at a time
            self.window = TumblingWindow(config.tumbling_window, shard_id, config.event_source_arn)
            self.window.restore(context.checkpoints.get(config.uuid, shard_id).window_state)
        self.max_in_flight = max(2 * config.batch_size * lanes, GET_RECORDS_LIMIT)
        settings = context.settings
        self.policy = RetryPolicy(
            maximum_retry_attempts=config.maximum_retry_attempts,
            maximum_record_age_in_seconds=config.maximum_record_age_in_seconds,
            bisect_batch_on_function_error=config.bisect_batch_on_function_error,
            backoff_seconds=settings.retry_backoff,
            backoff_max_seconds=settings.retry_backoff_max,
        )
        self.lanes = [
            Lane(
                f"esm-{config.uuid[:8]}-{shard_id[-8:]}-{index}",
                Batcher(
                    config.batch_size,
                    config.maximum_batching_window_in_seconds,
                    # a window's event also carries its state (up to 1 MB): keep room for it
                    max_payload_bytes=MAX_INVOKE_PAYLOAD_BYTES - (MAX_WINDOW_STATE_BYTES + 4096 if self.window else 0),
                    record_filter=context.record_filter,
                    boundary=self.window.boundary if self.window else None,
                ),
                self._process,
                on_filtered=self._filtered,
                on_crash=context.report_crash,
                stop=self.run_stop,
                idle=self._idle if self.window else None,
                idle_interval=settings.lane_idle_interval,
            )
            for index in range(lanes)
        ]
        for lane in self.lanes:
            lane.start()

    # -- feeding ------------------------------------------------------------------------
    def room(self) -> int:
        return max(self.max_in_flight - self.progress.in_flight, 0)

    def feed(self, raw_records: list[Mapping[str, Any]]) -> list[StreamRecord]:
        config = self.context.config
        records = [self.context.source.to_record(raw, self.shard_id) for raw in raw_records]
        self.progress.add([r.sequence_number for r in records])
        if records:
            self.context.telemetry.emit(
                RecordsRead(
                    config.uuid,
                    config.event_source_arn,
                    self.shard_id,
                    [r.sequence_number for r in records],
                    keys=[r.partition_key for r in records],
                    event_names=[str(r.event.get("eventName", "")) for r in records],
                )
            )
        for lane_index, group in group_by_lane(records, len(self.lanes)).items():
            self.lanes[lane_index].submit(group)
        return records

    def idle(self) -> bool:
        """Nothing in flight and no open window: a closed shard can be finished."""
        return self.progress.in_flight == 0 and (self.window is None or self.window.start is None)

    def stop(self, timeout: float) -> None:
        self.run_stop.set()
        for lane in self.lanes:
            lane.join(timeout)

    # -- processing (lane threads) ------------------------------------------------------
    def _complete(self, records: list[StreamRecord]) -> None:
        checkpoint = self.progress.complete([r.sequence_number for r in records])
        if checkpoint is not None:
            self.context.checkpoints.advance(self.context.config.uuid, self.shard_id, checkpoint)
        self.context.wake()

    def _filtered(self, records: list[StreamRecord]) -> None:
        config = self.context.config
        self.context.counters.count(records_filtered=len(records))
        self.context.telemetry.emit(
            RecordsFiltered(config.uuid, config.event_source_arn, self.shard_id, [r.sequence_number for r in records])
        )
        self._complete(records)

    def _invoke(
        self, event: dict[str, Any], records: list[StreamRecord], requires_state: bool, attempt: int = 1
    ) -> Verdict:
        context = self.context
        config = context.config
        started = time.monotonic()
        try:
            result = context.invoke(config.function_name, encode_json(event))
        except Exception as error:  # the function could not be invoked: not a retry attempt
            log.warning("event source mapping %s could not invoke %s: %s", config.uuid, config.function_name, error)
            context.counters.set_result(ProcessingResult.FUNCTION_CALL_FAILED, error=str(error))
            self._report(
                records,
                attempt,
                InvokeOutcome.UNREACHABLE,
                started,
                error_type=type(error).__name__,
                error_message=str(error),
            )
            return Verdict(BatchOutcome.FAILURE, invoked=False, reason=str(error))
        verdict = judge(
            result,
            records,
            report_batch_item_failures=config.reports_batch_item_failures and bool(records),
            requires_state=requires_state,
        )
        # A partial batch response is a function call that worked: its records are retried, not it.
        call_failed = verdict.outcome == BatchOutcome.FAILURE
        context.counters.count(invocations=1, failed_invocations=int(call_failed))
        context.counters.set_result(ProcessingResult.FUNCTION_CALL_FAILED if call_failed else ProcessingResult.OK)
        self._report_verdict(records, attempt, verdict, started, getattr(result, "request_id", None))
        return verdict

    def _report_verdict(
        self, records: list[StreamRecord], attempt: int, verdict: Verdict, started: float, request_id: str | None
    ) -> None:
        if verdict.outcome == BatchOutcome.SUCCESS:
            self._report(records, attempt, InvokeOutcome.SUCCESS, started, request_id=request_id)
            return
        if verdict.outcome == BatchOutcome.PARTIAL:
            failed = [r.sequence_number for r in records[verdict.failed_from :]]
            self._report(
                records, attempt, InvokeOutcome.PARTIAL, started, failed_record_ids=failed, request_id=request_id
            )
            return
        response = verdict.response if isinstance(verdict.response, dict) else {}
        error_type = response.get("errorType") or verdict.function_error
        message = response.get("errorMessage") or verdict.reason
        self._report(
            records,
            attempt,
            InvokeOutcome.FUNCTION_ERROR,
            started,
            error_type=str(error_type) if error_type else None,
            error_message=str(message) if message else None,
            request_id=request_id,
        )

    def _report(
        self,
        records: list[StreamRecord],
        attempt: int,
        outcome: InvokeOutcome,
        started: float,
        *,
        error_type: str | None = None,
        error_message: str | None = None,
        failed_record_ids: list[str] | None = None,
        request_id: str | None = None,
    ) -> None:
        self.context.telemetry.emit(
            batch_invoked(
                self.context.config,
                self.shard_id,
                records,
                attempt,
                outcome,
                started,
                error_type=error_type,
                error_message=error_message,
                failed_record_ids=failed_record_ids or (),
                request_id=request_id,
            )
        )

    def _call(self, records: list[StreamRecord], attempt: int) -> Verdict:
        if records:  # a lane's records share its key group: the first one names the lane
            self.context.counters.record_invocation_age(
                self.shard_id, lane_for_key(records[0].partition_key, len(self.lanes)), records
            )
        if self.window is None:
            return self._invoke(event_payload(records), records, requires_state=False, attempt=attempt)
        return self._invoke(self.window.event(records), records, requires_state=True, attempt=attempt)

    def _done(self, records: list[StreamRecord], verdict: Verdict) -> None:
        self.context.counters.count(records_delivered=len(records))
        if self.window is not None:
            if self.window.accept(verdict.response):
                self._final_invoke(terminated_early=True)
            self.context.checkpoints.save_window_state(self.context.config.uuid, self.shard_id, self.window.snapshot())
        self._complete(records)

    def _discard(self, records: list[StreamRecord], condition: str, invoke_count: int, verdict: Verdict | None) -> None:
        context = self.context
        config = context.config
        context.counters.count(records_discarded=len(records))
        destination = config.on_failure_destination
        log.warning(
            "event source mapping %s discards %d records of %s (%s)",
            config.uuid,
            len(records),
            self.shard_id,
            condition,
        )
        delivered = False
        if destination and context.destination is not None:
            record = failure_record(
                function_arn=config.resolved_function_arn,
                stream_arn=config.event_source_arn,
                shard_id=self.shard_id,
                records=records,
                condition=condition,
                invoke_count=invoke_count,
                status_code=verdict.status_code if verdict else None,
                function_error=verdict.function_error if verdict else None,
                now=dt.datetime.now(dt.UTC),
                batch_info_key=context.source.batch_info_key,
                arrival_millis=context.source.arrival_millis,
            )
            try:
                context.destination.send(destination, record, records, config.uuid)
                delivered = True
            except Exception:  # AWS counts DestinationDeliveryFailures and moves on
                log.exception("event source mapping %s could not send to %s", config.uuid, destination)
        context.telemetry.emit(
            RecordsDiscarded(
                mapping_uuid=config.uuid,
                function_arn=config.resolved_function_arn,
                event_source_arn=config.event_source_arn,
                shard_id=self.shard_id,
                record_ids=[r.sequence_number for r in records],
                condition=condition,
                destination_arn=destination or None,
                delivered=delivered,
            )
        )
        self._complete(records)

    def _process(self, batch: list[StreamRecord]) -> bool:
        if self.window is not None and self.window.open_for(batch):
            if not self._final_invoke():
                return False
            self.window.open_for(batch)
        delivery = BatchDelivery(self.policy, self._call, self._done, self._discard, self.run_stop)
        return delivery.deliver(batch)

    def _final_invoke(self, terminated_early: bool = False) -> bool:
        """The window's last invocation; retried until it succeeds (it blocks the shard)."""
        assert self.window is not None
        failures = 0
        while not self.run_stop.is_set():
            verdict = self._invoke(
                self.window.event([], final=True, terminated_early=terminated_early), [], requires_state=False
            )
            if verdict.outcome == BatchOutcome.SUCCESS:
                if terminated_early:
                    self.window.restarted_early()
                else:
                    self.window.closed()
                self.context.checkpoints.save_window_state(
                    self.context.config.uuid, self.shard_id, self.window.snapshot()
                )
                return True
            failures += 1
            self.run_stop.wait(self.policy.backoff(failures))
        return False

    def _idle(self) -> bool:
        if self.window is not None and self.window.is_due(time.time()):
            return self._final_invoke()
        return True
