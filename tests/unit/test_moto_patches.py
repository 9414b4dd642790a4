"""The moto patch registry: ordered, undoable, and held only while an endpoint runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from moto.dynamodb.models.table import StreamShard, Table

from streamlab.emulator import moto_patches
from streamlab.emulator.moto_patches.patching import Patcher


def test_the_update_item_coalescing_wraps_the_stream_store_feed() -> None:
    """The single record an UpdateItem writes must reach the store, so the feed goes in first."""
    names = [patch.name for patch in moto_patches.PATCHES]
    assert names.index("feed_the_stream_store") < names.index("emit_one_record_per_update_item")


def test_every_patch_says_what_it_fixes() -> None:
    for patch in moto_patches.PATCHES:
        assert patch.install.__doc__, patch.name
        assert patch.summary != patch.name


def test_a_patcher_undoes_every_patch_exactly() -> None:
    before = (StreamShard.__dict__["add"], Table.__dict__["describe"])
    patcher = Patcher()
    for patch in moto_patches.PATCHES:
        patch.install(patcher)
    assert StreamShard.__dict__["add"] is not before[0]
    assert Table.__dict__["describe"] is not before[1]
    assert len(patcher) >= len(moto_patches.PATCHES)
    patcher.undo()
    assert (StreamShard.__dict__["add"], Table.__dict__["describe"]) == before
    assert len(patcher) == 0


def test_moto_is_itself_again_once_the_last_endpoint_stops() -> None:
    """In a fresh process: patched while an endpoint runs, plain moto before and after."""
    script = textwrap.dedent("""
        from moto.dynamodb.models.table import StreamShard
        from streamlab.emulator import moto_patches
        from streamlab.emulator.endpoint import EmbeddedEndpoint

        plain = StreamShard.add
        first, second = EmbeddedEndpoint(port=0).start(), EmbeddedEndpoint(port=0).start()
        assert StreamShard.add is not plain, "patched while endpoints run"
        assert len(moto_patches.active_patches()) == len(moto_patches.PATCHES)
        first.stop()
        assert StreamShard.add is not plain, "still patched: one endpoint is left"
        second.stop()
        assert StreamShard.add is plain, "restored after the last one stopped"
        assert moto_patches.active_patches() == ()
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")


def test_compat_off_installs_the_speed_ups_only() -> None:
    script = textwrap.dedent("""
        from streamlab.emulator import moto_patches
        installed = moto_patches.acquire(compat=False)
        assert installed and {p.kind for p in installed} == {"speed"}, installed
        moto_patches.release()
        assert moto_patches.active_patches() == ()
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"
