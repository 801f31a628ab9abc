"""deblur_bag on real bags written by rosbags: every other message byte-identical, frames
deblurred by the same streaming interface as the node, headers and timestamps kept."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from bag_fixtures import (
    CAMERA,
    CHATTER,
    COMPRESSED,
    IMU,
    INFO,
    TS,
    BagSpec,
    connections,
    read_all,
    write_bag,
)

from deblur_ros.adapters.compressed import decode_compressed, jpeg_quality
from deblur_ros.adapters.pixels import decode_image, encode_pixels
from deblur_ros.core.inference.streaming import StreamingDeblurrer
from deblur_ros.jobs.bag_deblur import BagError, BagOptions, deblur_bag, incomplete_path

pytestmark = pytest.mark.timeout(120)
EXACT = dict(backend="torch", precision="fp32", device="cpu", threads=1)


def _options(model: Path, **kw) -> BagOptions:
    return BagOptions(model=str(model), **(EXACT | kw))


def _expected_frames(src: Path, model: Path, topic: str = CAMERA) -> list[bytes]:
    """The frames the one streaming interface gives for this topic, encoded as the node
    would encode them."""
    msgs = [TS.deserialize_cdr(raw, t) for top, t, _, raw in read_all(src) if top == topic]
    decoded = [decode_image(m) for m in msgs]
    stream = StreamingDeblurrer.from_checkpoint(model, "cpu", "torch", "fp32", threads=1)
    outs = stream.process([d.rgb for d in decoded])
    return [encode_pixels(o, d.alpha, d.encoding).data for o, d in zip(outs, decoded)]


def _tree_digest(path: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("storage,version", [("mcap", 9), ("sqlite3", 8), ("mcap", 8),
                                             ("sqlite3", 9)])
def test_suffix_round_trip_keeps_every_other_message(tmp_path, live_model, storage,
                                                     version):
    src = write_bag(tmp_path / "in", BagSpec(storage=storage, version=version, pad=6))
    before = _tree_digest(src)
    summary = deblur_bag(src, tmp_path / "out", _options(live_model))
    out = tmp_path / "out"
    assert _tree_digest(src) == before, "the input bag was modified"
    assert not incomplete_path(out).exists()

    old, new = read_all(src), read_all(out)
    assert [m for m in new if m[0] in {CAMERA, INFO, IMU, CHATTER}] == old
    deblurred = [m for m in new if m[0] == CAMERA + "/deblurred"]
    cams = [m for m in old if m[0] == CAMERA]
    assert [m[2] for m in deblurred] == [m[2] for m in cams]
    # each deblurred frame right after its original, as recorded
    order = [m[0] for m in new]
    for i, topic in enumerate(order):
        if topic == CAMERA:
            assert order[i + 1] == CAMERA + "/deblurred"
    for (_, t, _, raw), (_, _, _, orig) in zip(deblurred, cams):
        msg, src_msg = TS.deserialize_cdr(raw, t), TS.deserialize_cdr(orig, t)
        assert msg.header == src_msg.header
        assert (msg.encoding, msg.width, msg.height) == ("rgb8", 64, 48)
        assert msg.step == 64 * 3  # the padding was read past, not copied
    got = [bytes(TS.deserialize_cdr(raw, t).data) for _, t, _, raw in deblurred]
    assert got == _expected_frames(src, live_model)
    tight = [encode_pixels(decode_image(TS.deserialize_cdr(o[3], o[1])).rgb, None,
                           "rgb8").data for o in cams]
    assert all(g != t for g, t in zip(got, tight)), "the model left the frames unchanged"

    infos = [m for m in old if m[0] == INFO]
    copies = [m for m in new if m[0] == "/camera/image_raw/camera_info"]
    assert [(t, raw) for _, _, t, raw in copies] == [(t, raw) for _, _, t, raw in infos]

    a, b = connections(src), connections(out)
    for topic, conn in a.items():
        assert (b[topic].msgtype, b[topic].digest, b[topic].ext) == \
            (conn.msgtype, conn.digest, conn.ext)
        if conn.msgdef.data:
            assert b[topic].msgdef == conn.msgdef
    new_conn = b[CAMERA + "/deblurred"]
    assert (new_conn.msgtype, new_conn.digest, new_conn.ext.offered_qos_profiles) == \
        (a[CAMERA].msgtype, a[CAMERA].digest, a[CAMERA].ext.offered_qos_profiles)

    import yaml
    meta = yaml.safe_load((out / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert (meta["storage_identifier"], meta["version"]) == (storage, version)
    assert meta["custom_data"]["robot"] == "rover-7"
    assert summary.dropped == 0 and summary.frames == 6 and summary.copied == len(old) - 6
    _open_with_storage_library(out, storage, len(new))


def _open_with_storage_library(bag: Path, storage: str, count: int) -> None:
    """Readable by the storage's own library, not only by rosbags."""
    files = [p for p in bag.iterdir() if p.suffix in (".mcap", ".db3")]
    assert len(files) == 1 and "incomplete" not in files[0].name
    if storage == "mcap":
        from mcap.reader import make_reader

        with open(files[0], "rb") as f:
            reader = make_reader(f)
            assert sum(1 for _ in reader.iter_messages()) == count
            schemas = {s.name for s in reader.get_summary().schemas.values()}
        assert "sensor_msgs/msg/Image" in schemas
    else:
        with sqlite3.connect(files[0]) as db:
            assert db.execute("select count(*) from messages").fetchone()[0] == count


@pytest.mark.parametrize("storage,compression", [("sqlite3", "file"), ("mcap", "message")])
def test_zstd_compressed_bags_come_out_compressed_the_same_way(tmp_path, live_model, storage,
                                                               compression):
    src = write_bag(tmp_path / "in", BagSpec(frames=3, storage=storage,
                                             compression=compression))
    deblur_bag(src, tmp_path / "out", _options(live_model))
    import yaml
    meta = yaml.safe_load((tmp_path / "out" / "metadata.yaml").read_text())
    info = meta["rosbag2_bagfile_information"]
    assert (info["compression_mode"], info["compression_format"]) == (compression, "zstd")
    old, new = read_all(src), read_all(tmp_path / "out")
    assert [m for m in new if not m[0].startswith(CAMERA + "/")] == old


def test_replace_puts_frames_in_place_and_writes_humble_metadata(tmp_path, live_model):
    src = write_bag(tmp_path / "in", BagSpec(storage="mcap", version=9))
    deblur_bag(src, tmp_path / "out", _options(live_model, replace=True, version=8))
    old, new = read_all(src), read_all(tmp_path / "out")
    assert [(m[0], m[2]) for m in new] == [(m[0], m[2]) for m in old]
    for a, b in zip(old, new):
        if a[0] == CAMERA:
            assert a[3] != b[3]
            assert TS.deserialize_cdr(a[3], a[1]).header == \
                TS.deserialize_cdr(b[3], b[1]).header
        else:
            assert a == b
    assert set(connections(tmp_path / "out")) == set(connections(src))
    import yaml
    meta = yaml.safe_load((tmp_path / "out" / "metadata.yaml").read_text())
    assert meta["rosbag2_bagfile_information"]["version"] == 8


@pytest.mark.parametrize("encoding,pad", [("bgr8", 3), ("mono8", 5)])
def test_encodings_and_padded_rows_come_back_in_their_own_encoding(tmp_path, live_model,
                                                                   encoding, pad):
    src = write_bag(tmp_path / "in", BagSpec(encoding=encoding, pad=pad, frames=4))
    deblur_bag(src, tmp_path / "out", _options(live_model, replace=True))
    frames = [TS.deserialize_cdr(raw, t) for top, t, _, raw in read_all(tmp_path / "out")
              if top == CAMERA]
    assert {f.encoding for f in frames} == {encoding}
    assert [bytes(f.data) for f in frames] == _expected_frames(src, live_model)


def test_compressed_images_are_reencoded_in_their_codec_and_quality(tmp_path, live_model):
    src = write_bag(tmp_path / "in", BagSpec(compressed=True, frames=4))
    summary = deblur_bag(src, tmp_path / "out", _options(live_model))
    out_topic = "/camera/image_raw/deblurred/compressed"
    assert summary.topics[0].out_topic == out_topic
    new = read_all(tmp_path / "out")
    frames = [TS.deserialize_cdr(raw, t) for top, t, _, raw in new if top == out_topic]
    originals = [TS.deserialize_cdr(raw, t) for top, t, _, raw in new if top == COMPRESSED]
    assert len(frames) == 4
    for f, o in zip(frames, originals):
        assert f.format == o.format and f.header == o.header
        assert jpeg_quality(bytes(f.data)) == jpeg_quality(bytes(o.data)) == 80
        assert decode_compressed(f.format, f.data).rgb.shape == (48, 64, 3)
    assert any(r[0] == "/camera/image_raw/camera_info" for r in new)


def test_undecodable_frame_goes_through_unchanged_and_is_counted(tmp_path, live_model):
    from bag_fixtures import raw_image
    from rosbags.rosbag2 import Writer

    src = tmp_path / "in"
    w = Writer(src, version=9)
    w.open()
    conn = w.add_connection(CAMERA, "sensor_msgs/msg/Image", typestore=TS)
    raws = []
    for i in range(3):
        msg = raw_image(i, BagSpec())
        if i == 1:
            msg.data = msg.data[:100]  # truncated frame
        raws.append(bytes(TS.serialize_cdr(msg, conn.msgtype)))
        w.write(conn, 10**9 + i, raws[-1])
    w.close()
    summary = deblur_bag(src, tmp_path / "out", _options(live_model, replace=True))
    top = summary.topics[0]
    assert (top.frames, top.deblurred, top.passed_through, top.dropped) == (3, 2, 1, 0)
    new = read_all(tmp_path / "out")
    assert new[1][3] == raws[1] and new[0][3] != raws[0]


def test_a_camera_that_changes_scene_restarts_its_stream_there(tmp_path, live_model):
    """The frames after a cut are what the scene alone gives (no state or neighbours from
    the other scene), the cut is counted, and --scene-cuts off (BagOptions) keeps one
    stream."""
    spec = BagSpec(frames=8, cut_at=4)
    src = write_bag(tmp_path / "in", spec)
    summary = deblur_bag(src, tmp_path / "out", _options(live_model))
    assert summary.topics[0].scene_cuts == 1
    got = [TS.deserialize_cdr(raw, t).data for top, t, _, raw in read_all(tmp_path / "out")
           if top == CAMERA + "/deblurred"]
    decoded = [decode_image(TS.deserialize_cdr(raw, t)) for top, t, _, raw in read_all(src)
               if top == CAMERA]
    stream = StreamingDeblurrer.from_checkpoint(live_model, "cpu", "torch", "fp32", threads=1,
                                                cut_threshold=0.0)
    apart = stream.process([d.rgb for d in decoded[:4]]) + \
        stream.process([d.rgb for d in decoded[4:]])
    expected = [encode_pixels(o, d.alpha, d.encoding).data for o, d in zip(apart, decoded)]
    assert len(got) == 8
    for data, want in zip(got, expected, strict=True):
        assert bytes(data) == bytes(want)
    blind = deblur_bag(src, tmp_path / "blind", _options(live_model, scene_cuts=False))
    assert blind.topics[0].scene_cuts == 0
    after = [TS.deserialize_cdr(raw, t).data for top, t, _, raw in read_all(tmp_path / "blind")
             if top == CAMERA + "/deblurred"]
    assert any(bytes(a) != bytes(b) for a, b in zip(after, got))


def test_scene_mode_fits_saves_and_the_saved_model_gives_the_same_frames(tmp_path):
    src = write_bag(tmp_path / "in", BagSpec(frames=25, storage="sqlite3", version=8))
    opts = BagOptions(mode="scene", fit_iterations=3, window=10, scene_init="random",
                      threads=1)
    first = deblur_bag(src, tmp_path / "out", opts)
    saved = Path(first.scene_models[0])
    assert saved == tmp_path / "out.scene" / "camera_image_raw.pt" and saved.is_file()
    assert first.fit_seconds > 0 and first.dropped == 0
    import torch

    meta = torch.load(saved, weights_only=False)["metadata"]
    windows = [f["index"] // 10 for f in meta["frames"]]  # one frame per window at most
    assert meta["topic"] == CAMERA and len(windows) >= 2 and windows == sorted(set(windows))
    again = deblur_bag(src, tmp_path / "again", BagOptions(mode="scene", model=str(saved),
                                                           threads=1))
    frames = [m for m in read_all(tmp_path / "out") if m[0] == CAMERA + "/deblurred"]
    assert frames == [m for m in read_all(tmp_path / "again")
                      if m[0] == CAMERA + "/deblurred"]
    assert again.scene_models == [] and not (tmp_path / "again.scene").exists()


# ---------------------------------------------------------------------------------------
# errors: one line, nothing written, input untouched


def _truncate(path: Path) -> None:
    data = next(p for p in path.iterdir() if p.suffix in (".mcap", ".db3"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])


def _garble(path: Path) -> None:
    data = next(p for p in path.iterdir() if p.suffix in (".mcap", ".db3"))
    data.write_bytes(b"not a bag at all " * 100)


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
@pytest.mark.parametrize("damage", [_truncate, _garble])
def test_damaged_bag_is_one_line_and_writes_nothing(tmp_path, live_model, storage, damage):
    src = write_bag(tmp_path / "in", BagSpec(storage=storage, frames=8))
    damage(src)
    before = _tree_digest(src)
    with pytest.raises(BagError) as err:
        deblur_bag(src, tmp_path / "out", _options(live_model))
    text = str(err.value)
    assert "\n" not in text and "truncated or corrupt" in text, text
    assert not (tmp_path / "out").exists() and not incomplete_path(tmp_path / "out").exists()
    assert _tree_digest(src) == before


@pytest.mark.parametrize("case,expect", [
    ("missing", "does not exist"),
    ("no_metadata", "no metadata.yaml"),
    ("unknown_topic", "image topics there: /camera/image_raw"),
    ("not_image", "is sensor_msgs/msg/Imu, not an image"),
    ("exists", "already exists; pass --overwrite"),
    ("inside_input", "overlaps the input"),
    ("no_space", "not enough disk space"),
    ("bad_encoding", "unsupported image encoding '32FC1'"),
    ("bad_model", "broken.pt"),
])
def test_refusals_are_one_line_and_write_nothing(tmp_path, live_model, monkeypatch, case,
                                                 expect):
    src = write_bag(tmp_path / "in", BagSpec(frames=3))
    out = tmp_path / "out"
    opts = _options(live_model)
    if case == "missing":
        src = tmp_path / "nope"
    elif case == "no_metadata":
        (src / "metadata.yaml").unlink()
    elif case == "unknown_topic":
        opts = _options(live_model, topics=("/front/image",))
    elif case == "not_image":
        opts = _options(live_model, topics=(IMU,))
    elif case == "exists":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
    elif case == "inside_input":
        out = src / "sub"
    elif case == "no_space":
        monkeypatch.setattr("deblur_ros.jobs.bag_deblur.disk_free", lambda path: 10**6)
    elif case == "bad_encoding":
        src = tmp_path / "depth"
        from rosbags.rosbag2 import Writer
        w = Writer(src, version=9)
        w.open()
        c = w.add_connection(CAMERA, "sensor_msgs/msg/Image", typestore=TS)
        msg = TS.types["sensor_msgs/msg/Image"](
            header=TS.types["std_msgs/msg/Header"](
                stamp=TS.types["builtin_interfaces/msg/Time"](sec=1, nanosec=0),
                frame_id="d"), height=2, width=2, encoding="32FC1", is_bigendian=0, step=8,
            data=np.zeros(16, np.uint8))
        w.write(c, 1, TS.serialize_cdr(msg, c.msgtype))
        w.close()
    elif case == "bad_model":
        bad = tmp_path / "broken.pt"
        bad.write_bytes(b"garbage")
        opts = _options(bad)
    with pytest.raises(BagError) as err:
        deblur_bag(src, out, opts)
    text = str(err.value)
    assert expect in text and "\n" not in text, text
    assert not incomplete_path(out).exists()
    if case == "exists":
        assert (out / "keep.txt").read_text() == "mine"
    elif case != "inside_input":
        assert not out.exists()


def test_overwrite_replaces_only_a_bag_and_only_when_done(tmp_path, live_model):
    src = write_bag(tmp_path / "in", BagSpec(frames=3))
    out = tmp_path / "out"
    deblur_bag(src, out, _options(live_model))
    first = _tree_digest(out)
    deblur_bag(src, out, _options(live_model, overwrite=True, replace=True))
    assert _tree_digest(out) != first
    assert not any(p.name.endswith((".replaced", ".incomplete")) for p in tmp_path.iterdir())
    folder = tmp_path / "photos"
    folder.mkdir()
    with pytest.raises(BagError, match="not a rosbag2 bag; refusing"):
        deblur_bag(src, folder, _options(live_model, overwrite=True))


def test_a_stale_incomplete_output_is_cleaned_and_the_run_completes(tmp_path, live_model):
    src = write_bag(tmp_path / "in", BagSpec(frames=3))
    stale = incomplete_path(tmp_path / "out") / "out"
    stale.mkdir(parents=True)
    (stale / "out.mcap").write_bytes(b"half a bag")
    lines = []
    deblur_bag(src, tmp_path / "out", _options(live_model), log=lines.append)
    assert any("interrupted run" in line for line in lines)
    assert (tmp_path / "out" / "metadata.yaml").is_file()
    assert not incomplete_path(tmp_path / "out").exists()


@pytest.mark.parametrize("argv,shift", [([], 0), (["--deadzone", "0"], 1),
                                        (["--deadzone", "auto"], 0)])
def test_deadzone_option_reaches_the_frames(tmp_path, argv, shift):
    """A model that brightens every pixel by 0.8 grey levels: the default dead zone (the
    checkpoint records none, so 0.5) leaves 0.3, which rounds away; ``--deadzone 0`` keeps
    the whole 0.8, one grey level in 8-bit."""
    import torch

    from deblur_ros.cli.bag import build_parser, job_options
    from deblur_ros.core.models.checkpoint import save_checkpoint
    from deblur_ros.core.models.strcnn_dtb import StrcnnConfig, StrcnnDtb

    net = StrcnnDtb(StrcnnConfig(width=4))
    with torch.no_grad():
        net.to_image.bias.fill_(0.8 / 255)
    model = save_checkpoint(tmp_path / "strcnn-w4-m1.pt", net)
    src = write_bag(tmp_path / "in", BagSpec())
    args = build_parser().parse_args([str(src), str(tmp_path / "out"), "--model", str(model),
                                      "--threads", "1", "--backend", "torch",
                                      "--precision", "fp32", *argv])
    deblur_bag(src, tmp_path / "out", job_options(args))
    old = [m for m in read_all(src) if m[0] == CAMERA]
    new = [m for m in read_all(tmp_path / "out") if m[0] == CAMERA + "/deblurred"]
    assert len(new) == len(old) > 0
    for (_, t, _, raw), (_, _, _, orig) in zip(new, old):
        got, was = (np.asarray(TS.deserialize_cdr(r, t).data, int) for r in (raw, orig))
        inside = was < 255  # where +1 is not clipped
        np.testing.assert_array_equal((got - was)[inside], shift)
