"""Peak memory while iterating a multi-GB memory-mapped CMD/HaLP training file.

Writes a sparse `train_data_joint.npy` of the requested size (no disk blocks are used for
the zero pages), then reads every sample through the same reader and dataset code as
training, in a fresh subprocess per setting so peaks are not shared. Reports peak RSS
(VmHWM) against the file size, with the periodic release of mapped pages on (the default)
and off (to show what it saves).

    python benchmarks/bench_mmap_rss.py --gigabytes 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def make_file(directory: Path, gigabytes: float) -> int:
    import numpy as np

    from sslskel.data.prepare import write_cmd_layout

    per_sample = 3 * 300 * 25 * 2 * 4
    n = int(gigabytes * 2**30 // per_sample)
    data = np.lib.format.open_memmap(directory / "big.npy", mode="w+", dtype=np.float32,
                                     shape=(n, 3, 300, 25, 2))
    data[:, :, 0] = 1.0  # one non-zero frame per sample; the rest stays sparse
    data.flush()
    write_cmd_layout(directory, "train", data, num_frames=np.full(n, 300), labels=np.zeros(n, int),
                     names=[f"S001C001P001R001A{1 + i % 60:03d}" for i in range(n)])
    (directory / "big.npy").unlink()
    return n


def iterate(directory: str, release: bool) -> dict:
    import sslskel.data.container as container
    from sslskel.data.dataset import SkeletonDataset
    from sslskel.data.readers import load_split
    from sslskel.data.transforms import CenterCrop

    if not release:
        container.RELEASE_EVERY_BYTES = float("inf")
    before = status_kb("VmRSS")
    data = load_split(directory, "train")
    ds = SkeletonDataset(data, CenterCrop(0.95, 64))
    start = time.perf_counter()
    for i in range(len(ds)):
        ds[i]
    seconds = time.perf_counter() - start
    return {"release_pages": release, "samples": len(ds), "rss_before_mb": before / 1024,
            "peak_rss_mb": status_kb("VmHWM") / 1024, "samples_per_s": len(ds) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gigabytes", type=float, default=3.0)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(iterate(args.child[0], args.child[1] == "1")))
        return
    with tempfile.TemporaryDirectory(dir=REPO) as tmp:
        n = make_file(Path(tmp), args.gigabytes)
        size = (Path(tmp) / "train_data_joint.npy").stat().st_size
        runs = []
        for release in ("1", "0"):
            out = subprocess.run([sys.executable, __file__, "--child", tmp, release], check=True,
                                 capture_output=True, text=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
    print(json.dumps({"file_gb": size / 2**30, "samples": n, "runs": runs,
                      "peak_rss_over_file_size": {("release" if r["release_pages"] else "no_release"):
                                                  r["peak_rss_mb"] * 2**20 / size for r in runs}}, indent=2))


if __name__ == "__main__":
    main()
