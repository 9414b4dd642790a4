"""Checkpoints move forward only and follow the contiguous processed prefix."""

from __future__ import annotations

from streamlab.emulator.esm.checkpoint import CheckpointStore, ShardProgress


def test_checkpoint_only_moves_forward():
    store = CheckpointStore()
    assert store.get("m", "s").sequence_number is None
    assert store.advance("m", "s", "200")
    assert not store.advance("m", "s", "150")  # numeric, not lexical
    assert store.advance("m", "s", "1000")
    assert store.get("m", "s").sequence_number == "1000"


def test_pinned_iterator_dropped_once_records_are_processed():
    store = CheckpointStore()
    store.pin_iterator("m", "s", "it-latest")
    assert store.get("m", "s").pinned_iterator == "it-latest"
    store.advance("m", "s", "5")
    assert store.get("m", "s").pinned_iterator is None


def test_finished_shards_and_forget():
    store = CheckpointStore()
    store.mark_started("m")
    store.mark_finished("m", "parent")
    store.advance("m", "child", "7")
    assert store.has_started("m")
    assert {k: v.finished for k, v in store.shards("m").items()} == {"parent": True, "child": False}
    store.forget("m")
    assert store.shards("m") == {}
    assert not store.has_started("m")


def test_progress_checkpoints_the_contiguous_prefix():
    progress = ShardProgress()
    progress.add(["1", "2", "3", "4", "5"])
    assert progress.complete(["2", "3"]) is None  # 1 is still in flight
    assert progress.complete(["1"]) == "3"
    assert progress.complete(["5"]) is None
    assert progress.in_flight == 2
    assert progress.complete(["4"]) == "5"
    assert progress.in_flight == 0
