"""``compositor`` with a stand-in harmonizer that writes a snapshot every K steps and takes its
time (no TensorFlow), for the tests that interrupt a harmonize while it writes snapshots:

    python tests/data/slow_harmonizer.py STEP_SECONDS harmonize COMPOSITE --mask MASK ...
"""
import dataclasses
import sys
import time

from compositor import cli, plugins

STEP = float(sys.argv[1])


class Slow:
    """Reports progress and snapshots every ``progress.snapshot_every`` steps, sleeping STEP s a step."""
    name = "slow"

    @dataclasses.dataclass(frozen=True)
    class Settings:
        pass

    def harmonize(self, composite, settings, progress):
        for step in range(1, 10_000):
            progress.update(step, 10_000)
            if step % progress.snapshot_every == 0:
                progress.snapshot(step, composite.image)
            time.sleep(STEP)


plugins.load = lambda kind, name: Slow
sys.exit(cli.main(sys.argv[2:]))
