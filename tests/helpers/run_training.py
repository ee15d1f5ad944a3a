"""Runs train_and_evaluate in a fresh process, for tests that need their own devices.

  python run_training.py WORKDIR OUT.npz [--devices N] [--process I --num-processes K --port P]
                         [--set key=value ...]

Writes the final params and summary to OUT.npz (process 0 only).
"""

import argparse
import json
import sys

parser = argparse.ArgumentParser()
parser.add_argument("workdir")
parser.add_argument("out")
parser.add_argument("--devices", type=int, default=1)
parser.add_argument("--process", type=int, default=None)
parser.add_argument("--num-processes", type=int, default=1)
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--set", nargs="*", default=[])
parser.add_argument("--kill-after-row", type=int, default=None,
                    help="SIGKILL this process right after the metrics row of this step is written")
parser.add_argument("--pause-after-row", nargs=2, default=None, metavar=("STEP", "GO_FILE"),
                    help="after the metrics row of STEP is written, wait until GO_FILE exists")
args = parser.parse_args()

import jax  # noqa: E402

jax.config.update("jax_num_cpu_devices", args.devices)
if args.process is not None:
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(f"127.0.0.1:{args.port}", num_processes=args.num_processes, process_id=args.process)

import numpy as np  # noqa: E402

from rethink_jax import records, train  # noqa: E402
from rethink_jax.configs import common  # noqa: E402

if args.kill_after_row is not None:  # a kill at a known point, between checkpoints and log rows
  import os
  import signal

  append = records.MetricsLog.append

  def append_then_die(self, row):
    append(self, row)
    if row["step"] == args.kill_after_row:
      os.kill(os.getpid(), signal.SIGKILL)

  records.MetricsLog.append = append_then_die

if args.pause_after_row is not None:  # holds the run directory at a known point while a test pokes at it
  import pathlib
  import time

  pause_step, go_file = int(args.pause_after_row[0]), pathlib.Path(args.pause_after_row[1])
  append_row = records.MetricsLog.append

  def append_then_wait(self, row):
    append_row(self, row)
    if row["step"] == pause_step:
      deadline = time.monotonic() + 300
      while not go_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)

  records.MetricsLog.append = append_then_wait

config = common.base_config()
for item in args.set:
  key, value = item.split("=", 1)
  node = config
  *parents, leaf = key.split(".")
  for p in parents:
    node = node[p]
  node[leaf] = type(node[leaf])(json.loads(value)) if not isinstance(node[leaf], str) else value

summary = train.train_and_evaluate(config, args.workdir)
state = train.restore_state(args.workdir, config)
leaves = jax.tree_util.tree_leaves((state.params, state.model_state))
if jax.process_index() == 0:
  np.savez(args.out, *[np.asarray(jax.device_get(x)) for x in leaves],
           summary=json.dumps(summary), devices=jax.device_count())
print("done", jax.device_count(), file=sys.stderr)
