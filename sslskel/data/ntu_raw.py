"""Read and write raw NTU RGB+D `.skeleton` files (docs/methods.md, File formats).

A file is whitespace text: the frame count, then per frame a body count and per body an
info line (bodyID first, a uint64 kept as a string), a joint count (25) and 25 joint
lines `x y z depthX depthY colorX colorY orientW orientX orientY orientZ trackingState`.
Only x, y, z (camera space, metres) are kept.

Body selection: bodies are tracked by bodyID across frames, the first `max_bodies_read`
(4) IDs in order of first appearance are read, and the `bodies_kept` (2) with the highest
energy (sum over x, y, z of the std over the body's non-zero frames and all joints) are
kept, highest first; ties keep appearance order.

Deviation from the 2s-AGCN / CMD reader: that reader puts a body in the slot of its
position within each frame, so when the body list of a frame changes order two people
can be mixed in one track; here a track is one bodyID. Energies are computed on the
whole file, then frames beyond `max_frames` are dropped with a warning (NTU files have at
most 300 frames, so with the default nothing is dropped). A file with no body in any frame
(those of the official missing-skeleton lists) is skipped with a warning naming it, as the
MSR Action3D reader skips its empty sequence, rather than trained on as zeros.

Example:
    >>> import os, tempfile, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> xyz = np.random.default_rng(0).normal(size=(25, 3))
    >>> write_ntu_skeleton(os.path.join(d, "S001C002P003R001A013.skeleton"),
    ...                    [[("72057594037931101", xyz)], []])
    >>> data = read_ntu_raw(d)
    >>> data.data.shape, data.num_frames.tolist(), data.labels.tolist()
    ((1, 3, 300, 25, 2), [2], [12])
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from .checks import describe_folder, warn_skipped_empty
from .container import SkeletonData, ntu_meta_from_names, parse_ntu_name
from .errors import DataFormatError
from .files import temp_file_beside
from .limits import padded_zeros, read_lines

NUM_JOINTS = 25
BODY_INFO_TOKENS = 10
JOINT_TOKENS = 12
NTU_CLASSES = 120  # NTU RGB+D 120 (NTU60's actions are its first 60)


@dataclass
class RawSkeleton:
    """One parsed file: every body track, in order of first appearance."""

    body_ids: list[str]
    xyz: np.ndarray  # (B, T, 25, 3) float32; zero where the body is absent from a frame

    @property
    def num_frames(self) -> int:
        return self.xyz.shape[1]


class _Lines:
    """Cursor over a file's lines that knows the 1-based line number for messages."""

    def __init__(self, path: str, lines: list[str]):
        self.path = path
        self.lines = lines
        self.pos = 0

    def take(self, what: str) -> str:
        if self.pos >= len(self.lines):
            raise DataFormatError(self.path, f"line {self.pos + 1}", what,
                                  f"end of file after {len(self.lines)} lines (truncated file?)")
        self.pos += 1
        return self.lines[self.pos - 1]

    def take_block(self, count: int, what: str) -> list[str]:
        if self.pos + count > len(self.lines):
            raise DataFormatError(self.path, f"line {len(self.lines) + 1}", what,
                                  f"end of file after {len(self.lines)} lines (truncated file?)")
        self.pos += count
        return self.lines[self.pos - count:self.pos]

    def take_int(self, what: str) -> int:
        line_no = self.pos + 1
        text = self.take(what).strip()
        try:
            return int(text)
        except ValueError:
            raise DataFormatError(self.path, f"line {line_no}", what, repr(text)) from None


def _parse_joint_block(cur: _Lines, first_line_no: int, block: list[str], what: str) -> np.ndarray:
    """25 joint lines -> (25, 3) x, y, z; errors name the offending line."""
    tokens = " ".join(block).split()
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        values = None
    if values is None or values.size != NUM_JOINTS * JOINT_TOKENS:
        for k, line in enumerate(block):  # slow path only to find the bad line
            parts = line.split()
            bad = next((p for p in parts if not _is_number(p)), None)
            if len(parts) != JOINT_TOKENS or bad is not None:
                got = f"non-numeric token {bad!r}" if bad is not None else f"{len(parts)} tokens: {line.strip()!r}"
                raise DataFormatError(cur.path, f"line {first_line_no + k}",
                                      f"{JOINT_TOKENS} numbers (x y z depthX depthY colorX colorY "
                                      f"orientW orientX orientY orientZ trackingState) for {what} joint {k + 1}",
                                      got)
    return values.reshape(NUM_JOINTS, JOINT_TOKENS)[:, :3]


def _is_number(token: str) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False


def _parse_body_info(cur: _Lines, what: str) -> str:
    line_no = cur.pos + 1
    parts = cur.take(f"a body info line ({BODY_INFO_TOKENS} fields, bodyID first) for {what}").split()
    if len(parts) != BODY_INFO_TOKENS:
        raise DataFormatError(cur.path, f"line {line_no}",
                              f"a body info line with {BODY_INFO_TOKENS} fields for {what}",
                              f"{len(parts)} fields: {' '.join(parts)!r}")
    bad = next((p for p in parts if not _is_number(p)), None)
    if bad is not None or not parts[0].isdigit():
        raise DataFormatError(cur.path, f"line {line_no}",
                              f"numeric fields and an integer bodyID for {what}",
                              f"non-numeric token {bad or parts[0]!r}")
    return parts[0]  # uint64: kept as text so no float rounding can merge two IDs


def parse_skeleton_file(path: str | os.PathLike) -> RawSkeleton:
    """Parse one `.skeleton` file into per-body (T, 25, 3) tracks keyed by bodyID."""
    path = str(path)
    lines = read_lines(path, "ascii")
    cur = _Lines(path, lines)
    if not lines or not lines[0].strip():
        raise DataFormatError(path, "line 1", "the frame count", "an empty line or empty file")
    num_frames = cur.take_int("the frame count (an integer)")
    if num_frames < 1:
        raise DataFormatError(path, "line 1", "a frame count >= 1", str(num_frames))
    if num_frames > len(lines) - 1:  # each frame takes a line at least: a corrupt count, not a huge array
        raise DataFormatError(path, "line 1", f"a frame count the file can hold (at most {len(lines) - 1} "
                              "lines follow it)", f"{num_frames} (a corrupt or truncated file?)")
    track_of: dict[str, int] = {}
    tracks: list[np.ndarray] = []
    for t in range(num_frames):
        body_count = cur.take_int(f"the body count of frame {t + 1} of {num_frames}")
        if body_count < 0:
            raise DataFormatError(path, f"line {cur.pos}", "a body count >= 0", str(body_count))
        for b in range(body_count):
            what = f"body {b + 1} of frame {t + 1}"
            body_id = _parse_body_info(cur, what)
            joint_count_line = cur.pos + 1
            joint_count = cur.take_int(f"the joint count of {what}")
            if joint_count != NUM_JOINTS:
                raise DataFormatError(path, f"line {joint_count_line}",
                                      f"joint count {NUM_JOINTS} for {what}", str(joint_count))
            first = cur.pos + 1
            block = cur.take_block(NUM_JOINTS, f"{NUM_JOINTS} joint lines for {what}")
            xyz = _parse_joint_block(cur, first, block, what)
            if body_id not in track_of:
                track_of[body_id] = len(tracks)
                tracks.append(np.zeros((num_frames, NUM_JOINTS, 3), np.float32))
            tracks[track_of[body_id]][t] = xyz
    rest = [k for k in range(cur.pos, len(lines)) if lines[k].strip()]
    if rest:
        raise DataFormatError(path, f"line {rest[0] + 1}",
                              f"end of file after {num_frames} frames", repr(lines[rest[0]].strip()))
    xyz = np.stack(tracks) if tracks else np.zeros((0, num_frames, NUM_JOINTS, 3), np.float32)
    return RawSkeleton(body_ids=list(track_of), xyz=xyz)


def body_energy(xyz: np.ndarray) -> np.ndarray:
    """(B, T, V, 3) -> (B,) sum over x, y, z of the std over the body's non-zero frames."""
    energy = np.zeros(len(xyz))
    for b, body in enumerate(xyz):  # B <= 4 per file: a loop over bodies, not samples
        present = (body != 0).any(axis=(1, 2))
        if present.any():
            energy[b] = body[present].reshape(-1, 3).std(axis=0).sum()
    return energy


def select_bodies(raw: RawSkeleton, max_bodies_read: int = 4, bodies_kept: int = 2) -> np.ndarray:
    """(C=3, T, 25, bodies_kept): the most energetic of the first `max_bodies_read` tracks."""
    xyz = raw.xyz[:max_bodies_read]
    order = np.argsort(-body_energy(xyz), kind="stable")[:bodies_kept]
    out = np.zeros((bodies_kept, raw.num_frames, NUM_JOINTS, 3), np.float32)
    out[:len(order)] = xyz[order]
    return out.transpose(3, 1, 2, 0)


def read_missing_list(path: str | os.PathLike) -> set[str]:
    """Names in an official missing-skeleton list (2 prose lines, a blank line, then names)."""
    lines = read_lines(path)
    names = set()
    for k, line in enumerate(lines, start=1):
        token = line.strip()
        if not token:
            continue
        if parse_ntu_name(token) is None:
            if k <= 3:  # the official lists open with two prose lines and a blank line
                continue
            raise DataFormatError(path, f"line {k}", "a sample name like S001C002P003R002A013", repr(token))
        names.add(Path(token).stem)
    return names


def list_skeleton_files(directory: str | os.PathLike, missing_file=None,
                        names: Sequence[str] | None = None) -> list[Path]:
    """Sorted `.skeleton` files of `directory`, minus the missing list, optionally only `names`."""
    directory = Path(directory)
    found = {p.stem: p for p in directory.glob("*.skeleton")}
    if not found:
        raise DataFormatError(directory, "files", "raw NTU RGB+D .skeleton files (data.format=ntu_raw)",
                              f"none; {describe_folder(directory)}")
    if names is not None:
        absent = [n for n in names if n not in found]
        if absent:
            raise DataFormatError(directory, "sample names", "a .skeleton file for every requested name",
                                  f"{len(absent)} missing, e.g. {absent[0]!r}")
        found = {n: found[n] for n in names}
    if missing_file is not None:
        missing = read_missing_list(missing_file)
        found = {n: p for n, p in found.items() if n not in missing}
    return [found[n] for n in sorted(found)]


def read_sample(path: Path, max_bodies_read: int = 4, bodies_kept: int = 2,
                max_frames: int = 300) -> np.ndarray:
    """One file -> (3, T <= max_frames, 25, bodies_kept) float32, warning when frames are cut."""
    selected = select_bodies(parse_skeleton_file(path), max_bodies_read, bodies_kept)
    if selected.shape[1] > max_frames:
        warnings.warn(f"{path}: {selected.shape[1]} frames, keeping the first {max_frames} (max_frames)",
                      stacklevel=2)
        selected = selected[:, :max_frames]
    return selected


def iter_samples(files: Iterable[Path], **kw) -> Iterator[np.ndarray]:
    for path in files:
        yield read_sample(path, **kw)


def labels_from_names(names: Sequence[str], source) -> np.ndarray:
    meta = ntu_meta_from_names(list(names))
    bad = np.flatnonzero((meta["action"] < 1) | (meta["action"] > NTU_CLASSES))
    if len(bad):
        raise DataFormatError(source, "file name",
                              f"SsssCcccPpppRrrrAaaa with an action code in [1, {NTU_CLASSES}] (NTU RGB+D 120)",
                              repr(names[bad[0]]))
    return meta["action"] - 1


def read_ntu_raw(directory: str | os.PathLike, max_bodies_read: int = 4, bodies_kept: int = 2,
                 max_frames: int = 300, missing_file=None,
                 names: Sequence[str] | None = None) -> SkeletonData:
    """A directory of `.skeleton` files -> in-memory `SkeletonData` (N, 3, max_frames, 25, M).

    Holds everything in RAM: for the full dataset use `sslskel.data.prepare`, which
    streams files into a memory-mapped output instead.
    """
    files = list_skeleton_files(directory, missing_file, names)
    labels_from_names([p.stem for p in files], directory)
    data = padded_zeros((len(files), 3, max_frames, NUM_JOINTS, bodies_kept), directory, "the clips")
    num_frames = np.zeros(len(files), np.int64)
    kept, skipped = [], []
    for path, sample in zip(files, iter_samples(files, max_bodies_read=max_bodies_read,
                                                bodies_kept=bodies_kept, max_frames=max_frames)):
        if not sample.any():  # no body in any frame: skipped, as MSR's empty sequences are
            skipped.append(path.name)
            continue
        data[len(kept), :, :sample.shape[1]] = sample
        num_frames[len(kept)] = sample.shape[1]
        kept.append(path.stem)
    warn_skipped_empty(directory, skipped, stacklevel=2)
    if skipped:
        data, num_frames = data[:len(kept)].copy(), num_frames[:len(kept)]
    return SkeletonData(data, num_frames, labels_from_names(kept, directory), kept,
                        meta=ntu_meta_from_names(kept), layout="ntu25", source=str(directory))


# -- writing -------------------------------------------------------------------------------
def _joint_line(p: np.ndarray) -> str:
    x, y, z = (float(v) for v in p)
    depth_z = z if abs(z) > 1e-6 else 1e-6
    # a pinhole projection gives plausible depth/colour pixel fields; readers ignore them
    depth_x, depth_y = 256 + 365 * x / depth_z, 212 - 365 * y / depth_z
    color_x, color_y = 960 + 1060 * x / depth_z, 540 - 1060 * y / depth_z
    fields = [x, y, z, depth_x, depth_y, color_x, color_y, 1.0, 0.0, 0.0, 0.0]
    return " ".join(f"{v:.9g}" for v in fields) + " 2"


def format_skeleton(bodies: Sequence[Sequence[tuple]]) -> str:
    """Text of a `.skeleton` file; bodies[t] = list of (body_id, (25, 3) xyz) in frame t."""
    out = [str(len(bodies))]
    for frame in bodies:
        out.append(str(len(frame)))
        for body_id, xyz in frame:
            xyz = np.asarray(xyz, dtype=np.float32)
            if xyz.shape != (NUM_JOINTS, 3):
                raise ValueError(f"body {body_id}: xyz must be ({NUM_JOINTS}, 3), got {xyz.shape}")
            out.append(f"{int(body_id)} 0 1 1 1 1 0 0.05 -0.1 2")
            out.append(str(NUM_JOINTS))
            out.extend(_joint_line(p) for p in xyz)
    return "\n".join(out) + "\n"


def write_ntu_skeleton(path: str | os.PathLike, bodies: Sequence[Sequence[tuple]]) -> None:
    """Write a valid `.skeleton` file atomically (temp file in the same dir, then rename)."""
    path = Path(path)
    text = format_skeleton(bodies)
    tmp = temp_file_beside(path)
    try:
        with open(tmp, "w", encoding="ascii") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
