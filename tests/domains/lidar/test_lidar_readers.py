"""LiDAR readers on real files: KITTI .bin + label_2 + calib, PCD and PLY written by open3d, and bad input."""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pytest
from jepa_domains.lidar.demo import calib_text, label_lines
from jepa_domains.lidar.readers import find_frames, read_boxes, read_scan
from jepa_platform.errors import JepaError

POINTS = np.array([[10.0, 2.0, -1.0, 0.5], [20.5, -3.25, 0.5, 0.0], [5.0, 0.0, -1.7, 1.0]], np.float32)


def kitti_tree(root: Path, labels: list[str] | None = None) -> Path:
    """``root/training/{velodyne,label_2,calib}/000000.*`` holding :data:`POINTS`."""
    for folder in ("velodyne", "label_2", "calib"):
        (root / "training" / folder).mkdir(parents=True)
    POINTS.tofile(root / "training" / "velodyne" / "000000.bin")
    (root / "training" / "calib" / "000000.txt").write_text(calib_text())
    if labels is not None:
        (root / "training" / "label_2" / "000000.txt").write_text("".join(f"{line}\n" for line in labels))
    return root


def test_kitti_tree_reads_points_and_boxes_back_in_the_sensor_frame(tmp_path: Path) -> None:
    boxes = np.array([[12.0, -3.0, -0.9, 4.2, 1.7, 1.5, 0.4], [30.0, 5.0, -0.8, 0.6, 0.5, 1.8, -2.0]])
    lines = label_lines(["Car", "Pedestrian"], boxes) + ["DontCare -1 -1 -10 0 0 10 10 -1 -1 -1 -1000 -1000 -1000 -10"]
    frames = find_frames(kitti_tree(tmp_path, lines))
    assert len(frames) == 1 and frames[0].label is not None and frames[0].calib is not None
    np.testing.assert_array_equal(read_scan(frames[0].points), POINTS)
    read = read_boxes(frames[0])
    assert read.names == ("Car", "Pedestrian")  # DontCare skipped
    np.testing.assert_allclose(read.centres, boxes[:, :3], atol=0.02)
    np.testing.assert_allclose(read.sizes, boxes[:, 3:6], atol=0.01)
    np.testing.assert_allclose(np.cos(read.headings - boxes[:, 6]), 1.0, atol=1e-3)


def test_pcd_and_ply_through_open3d_with_and_without_intensity(tmp_path: Path) -> None:
    import open3d as o3d  # the lidar extra installs it: a missing open3d fails, never skips
    cloud = o3d.t.geometry.PointCloud(o3d.core.Tensor(POINTS[:, :3]))
    cloud.point.intensity = o3d.core.Tensor(POINTS[:, 3:])
    nested = tmp_path / "sensor" / "day1"
    nested.mkdir(parents=True)
    assert o3d.t.io.write_point_cloud(str(nested / "a.pcd"), cloud)
    assert o3d.t.io.write_point_cloud(str(nested / "b.ply"), cloud)
    plain = o3d.t.geometry.PointCloud(o3d.core.Tensor(POINTS[:, :3]))
    assert o3d.t.io.write_point_cloud(str(tmp_path / "c.pcd"), plain)
    frames = find_frames(tmp_path)  # a folder searched recursively
    assert [f.points.name for f in frames] == ["c.pcd", "a.pcd", "b.ply"] and all(f.label is None for f in frames)
    np.testing.assert_allclose(read_scan(nested / "a.pcd"), POINTS, atol=1e-6)
    np.testing.assert_allclose(read_scan(nested / "b.ply"), POINTS, atol=1e-6)
    np.testing.assert_allclose(read_scan(tmp_path / "c.pcd"), np.column_stack([POINTS[:, :3], np.zeros(3)]))


@pytest.mark.parametrize("failure", [
    ImportError("No module named 'open3d'"),
    OSError("libusb-1.0.so.0: cannot open shared object file: No such file or directory"),  # open3d without libusb
])
def test_pcd_without_a_working_open3d_names_the_system_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               failure: Exception) -> None:
    path = tmp_path / "scan.pcd"
    path.write_text("VERSION 0.7\nFIELDS x y z intensity\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\n"
                    "WIDTH 1\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 1\nDATA ascii\n1.0 2.0 -1.0 0.5\n")
    real_import = builtins.__import__

    def failing_import(name: str, *args, **kwargs):
        if name == "open3d" or name.startswith("open3d."):
            raise failure
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing_import)
    with pytest.raises(JepaError, match="libusb-1.0-0") as error:
        read_scan(path)
    assert str(failure) in str(error.value) and "pip install open3d" in str(error.value)


def test_bad_inputs_give_one_error_naming_the_file(tmp_path: Path) -> None:
    odd = tmp_path / "odd.bin"
    odd.write_bytes(POINTS.tobytes()[:-4])
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    nan = tmp_path / "nan.bin"
    bad = POINTS.copy()
    bad[1, 2] = np.inf
    bad.tofile(nan)
    expected = {odd: "44 bytes is not a multiple of 16", empty: "empty scan", nan: "1 of 3 points have NaN or infinite"}
    for path, message in expected.items():
        with pytest.raises(JepaError, match=message) as error:
            read_scan(path)
        assert str(path) in str(error.value)
    import open3d as o3d  # the lidar extra installs it: a missing open3d fails, never skips
    hollow = tmp_path / "hollow.pcd"
    hollow.write_text("VERSION .7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 0\nHEIGHT 1\n"
                      "VIEWPOINT 0 0 0 1 0 0 0\nPOINTS 0\nDATA ascii\n")
    assert o3d is not None
    with pytest.raises(JepaError, match=f"{hollow}: no points"):
        read_scan(hollow)


def test_a_malformed_label_line_names_the_file_and_line(tmp_path: Path) -> None:
    good = label_lines(["Car"], np.array([[12.0, -3.0, -0.9, 4.2, 1.7, 1.5, 0.4]]))[0]
    root = kitti_tree(tmp_path, [good, "Car 0.00 0 1.2 10 20 30"])
    frame = find_frames(root)[0]
    with pytest.raises(JepaError, match=r"000000.txt, line 2: malformed label line .* \(7 fields, expected 15\)"):
        read_boxes(frame)
