"""What a tf.data pipeline costs in memory over the array it gathers from: captured as a
`tf.constant` (what dlrun's pipelines did), or lent as `dlrun.data.held` makes it.

Each way runs in a process of its own: an int32 array of --megabytes (aligned, as dlrun
makes its padded sequences), a dataset gathering batches of 512 rows from it, one pass
over the dataset. Prints, for each, RSS above the process with the array alone: at the
peak (VmHWM, reset after the array is made) and after the pass.

Usage: python bench/held_arrays.py [--megabytes 400]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

WAYS = ("tf.constant", "held")


def _status(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1]) // 1024
    raise KeyError(key)


def child(way: str, megabytes: int) -> None:
    import tensorflow as tf

    from dlrun.data.held import aligned_empty, held

    rows = megabytes * 1024 * 1024 // (4 * 1000)
    array = aligned_empty((rows, 1000), "int32")
    array.fill(1)
    before = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # VmHWM from here on
    if way == "held":
        table = held(array, "table")
        gather = lambda index: tf.gather(table.read_value(), index)  # noqa: E731
    else:
        constant = tf.constant(array)
        gather = lambda index: tf.gather(constant, index)  # noqa: E731
    dataset = tf.data.Dataset.range(rows).batch(512).map(gather)
    for _ in dataset:
        pass
    peak, after = _status("VmHWM") - before, _status("VmRSS") - before
    print(json.dumps({"peak_mb": peak, "after_mb": after}))


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=400)
    args = parser.parse_args()
    results = {}
    for way in WAYS:
        done = subprocess.run(
            [sys.executable, __file__, "--child", way, str(args.megabytes)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[way] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"a tf.data pipeline over a {args.megabytes} MB int32 array: RSS above the array, MB")
    for way, mb in results.items():
        print(f"  {way:12} peak {mb['peak_mb']:6,}   after one pass {mb['after_mb']:6,}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
