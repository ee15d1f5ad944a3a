"""Table 2 and Figure 2a (ImageNet, Inception V3): one row of Table 2 per call.

Each call trains (or resumes) one row into ``--workdir/<row>-<identity hash>`` and rebuilds ``table2.md``
and ``figure2a.png`` from every row finished so far in ``--workdir``.

  python experiments/imagenet.py --config rethink_jax/configs/imagenet.py:all --config.data.data_dir=~/tensorflow_datasets
  python experiments/imagenet.py --config rethink_jax/configs/imagenet.py:random_labels \
      --config.data.source=jpeg --config.data.data_dir=/data/imagenet --config.compute_dtype=bfloat16
"""

import os

from absl import app, flags, logging

from rethink_jax import cli, imagenet, report, sweep


def _main(config_flag, workdir_flag):
  def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)

    def go():
      c = config_flag.value
      sweep.run_sweep(sweep.SweepRuns("table2", {c.row: (c, {"imagenet_row": c.row})}, merge=True), workdir_flag.value,
                      train_fn=imagenet.train_and_evaluate)
      for path in report.build(workdir_flag.value, partial=True):  # one row per call: the others may be to come
        print(f"wrote {path}")

    cli.run_main(go)

  return main


def check(config) -> None:
  from rethink_jax import validation

  validation.check(config, "imagenet")


def main(argv: list[str] | None = None) -> None:
  """Runs this experiment with the flags of ``argv`` (default: the command line, ``sys.argv``)."""
  config_flag = cli.define_config_flag(os.path.join(cli.config_dir(), "imagenet.py"),
                                       "Config file:row (all, aug, wd, none, random_labels, tiny).", argv)
  workdir_flag = flags.DEFINE_string("workdir", "runs/imagenet",
                                     "Sweep directory; each row runs in <workdir>/<row>-<identity hash>.")
  where = cli.dry_run_lines(check, workdir_flag,
                            lambda config: "run directory " + os.path.join(
                                workdir_flag.value, sweep.run_dir_name(workdir_flag.value, config.row, config)))
  app.run(_main(config_flag, workdir_flag), argv=argv, flags_parser=cli.flags_parser(where))
