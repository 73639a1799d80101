"""Two finished `sslskel compare` studies of the same methods and seeds, paired by seed; prints JSON.

    python benchmarks/pair_studies.py runs/cvmim_default runs/cvmim_augmented          # B - A
    python benchmarks/pair_studies.py A B --table                                        # and a markdown table

For an arm that differs from another by a setting (an override, the code, the precision), both
run as their own study; this pairs them: for every method and protocol both have, B - A in
points per seed, the mean with its 95 % t interval (none with one seed) and the number of seeds
agreeing in sign, beside each arm's mean and population std. `benchmarks/amp_accuracy.py` pairs
its fp32 and bf16 arms with it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sslskel.compare.stats import paired_difference, spread  # noqa: E402


def pair_arms(first: dict, second: dict, names: tuple[str, str] = ("a", "b")) -> dict:
    """{method: {protocol: {<name a>, <name b> (spread), difference (paired b - a)}}} from two results.json."""
    table = {}
    for method, protocols in first["per_seed"].items():
        for protocol, by_seed in protocols.items():
            other = second["per_seed"].get(method, {}).get(protocol)
            if not other or not by_seed:
                continue
            table.setdefault(method, {})[protocol] = {
                names[0]: spread(list(by_seed.values())), names[1]: spread(list(other.values())),
                "difference": paired_difference(other, by_seed)}
    return table


def markdown(pairs: dict, names: tuple[str, str]) -> str:
    """One row per (method, protocol): each arm's mean ± std, the difference [interval], agreeing seeds."""
    lines = [f"| method | protocol | {names[0]} | {names[1]} | {names[1]} - {names[0]} [95 % CI] | per seed |",
             "|---|---|---|---|---|---|"]
    for method, protocols in pairs.items():
        for protocol, row in protocols.items():
            d = row["difference"]
            if d is None:  # the two arms share no seed: nothing to pair
                lines.append(f"| {method} | {protocol} | | | no seed in both arms | |")
                continue
            interval = f" [{d['low']:+.1f}, {d['high']:+.1f}]" if d.get("low") is not None else " (one seed)"
            per_seed = ", ".join(f"{x:+.1f}" for x in d["differences"])
            arms = [f"{row[n]['mean']:.1f} ± {row[n]['std']:.1f}" for n in names]
            lines.append(f"| {method} | {protocol} | {arms[0]} | {arms[1]} | {d['mean']:+.1f}{interval}, "
                         f"{d['agree']}/{d['n']} | {per_seed} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", type=Path, help="study folder A (its results.json)")
    parser.add_argument("second", type=Path, help="study folder B")
    parser.add_argument("--names", default=None, help="two arm names, comma-separated (default: the folder names)")
    parser.add_argument("--table", action="store_true", help="also print a markdown table to stderr")
    args = parser.parse_args(argv)
    names = tuple(args.names.split(",")) if args.names else (args.first.name, args.second.name)
    if len(names) != 2 or names[0] == names[1]:
        parser.error(f"--names: two different names expected, got {args.names!r}")
    results = []
    for folder in (args.first, args.second):
        path = folder / "results.json"
        if not path.is_file():
            parser.error(f"{path}: no results.json (run or --report-only the study first)")
        results.append(json.loads(path.read_text()))
    pairs = pair_arms(results[0], results[1], names)
    if args.table:
        print(markdown(pairs, names), file=sys.stderr)
    print(json.dumps({"a": str(args.first), "b": str(args.second), "pairs": pairs}, indent=2))


if __name__ == "__main__":
    main()
