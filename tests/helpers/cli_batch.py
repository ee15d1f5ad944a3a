"""Runs many command lines of the experiment scripts for the CLI tests, each in its own process.

A fresh interpreter per command spends about 2.5 s importing JAX, Flax and the library, more
than most ``--help`` or ``--dry_run`` invocations take themselves, and the docs hold some 70
commands. So one helper process imports them once and forks a child per command: the child
runs the script as ``python SCRIPT ARGS...`` would (``__main__``, its own argv, working
directory, stdout and stderr, exit status), from a copy of a process in which no JAX backend
exists yet (the parent only imports, so forking is safe). The library's import-time set-up
(``rethink_jax.cpu_flags``) is the same as in a fresh process.

  from helpers import cli_batch
  results = cli_batch.run([(["experiments/table1.py", "--dry_run"], "/tmp/x"), ...])
  results[0].returncode, results[0].stdout, results[0].stderr
  cli_batch.run_in_new_dirs([["experiments/table1.py", "--help"]], tmp_path_factory)  # [(result, dir)]
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class Result:
  returncode: int
  stdout: str
  stderr: str


def run(jobs, timeout: float = 600) -> list[Result]:
  """Runs each ``(argv, cwd)`` (``argv[0]`` a script path) as its own process; one result each."""
  payload = json.dumps([{"argv": [str(a) for a in argv], "cwd": str(cwd)} for argv, cwd in jobs])
  env = dict(os.environ, PYTHONPATH=str(REPO))
  out = subprocess.run([sys.executable, __file__], input=payload, capture_output=True, text=True, timeout=timeout,
                       env=env)
  if out.returncode != 0:
    raise RuntimeError(f"cli_batch helper failed:\n{out.stderr[-3000:]}")
  return [Result(**r) for r in json.loads(out.stdout)]


def run_in_new_dirs(argvs, tmp_path_factory, prefix: str = "cmd") -> list[tuple[Result, pathlib.Path]]:
  """:func:`run` with each command in a new empty working directory; ``(result, directory)`` each."""
  dirs = [tmp_path_factory.mktemp(f"{prefix}{i}") for i in range(len(argvs))]
  return list(zip(run(list(zip(argvs, dirs))), dirs))


def _child(argv: list[str], cwd: str, stdout_fd: int, stderr_fd: int) -> None:
  """In the forked child: become ``python argv...`` and exit with its status."""
  import runpy

  os.chdir(cwd)
  os.dup2(stdout_fd, 1)
  os.dup2(stderr_fd, 2)
  sys.argv = list(argv)
  sys.path[0] = str(pathlib.Path(argv[0]).resolve().parent)  # as the interpreter sets it for a script
  code = 0
  try:
    runpy.run_path(argv[0], run_name="__main__")
  except SystemExit as e:  # what the interpreter does with sys.exit's argument
    if e.code is None:
      code = 0
    elif isinstance(e.code, int):
      code = e.code
    else:
      print(e.code, file=sys.stderr)
      code = 1
  except BaseException:  # noqa: BLE001 - an uncaught exception: traceback and status 1, as python does
    import traceback

    traceback.print_exc()
    code = 1
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(code)


def _serve() -> None:
  import tempfile

  jobs = json.load(sys.stdin)
  import absl.app  # noqa: F401  - what every script imports, once, before any fork
  import flax.nnx  # noqa: F401
  import jax  # noqa: F401
  import ml_collections  # noqa: F401

  import rethink_jax  # noqa: F401
  from rethink_jax import cli, report, sweep, train  # noqa: F401

  results = []
  for job in jobs:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
      sys.stdout.flush()
      sys.stderr.flush()
      pid = os.fork()
      if pid == 0:
        _child(job["argv"], job["cwd"], out.fileno(), err.fileno())
      _, status = os.waitpid(pid, 0)
      out.seek(0)
      err.seek(0)
      results.append({"returncode": os.waitstatus_to_exitcode(status),
                      "stdout": out.read().decode(errors="replace"), "stderr": err.read().decode(errors="replace")})
  json.dump(results, sys.stdout)


if __name__ == "__main__":
  _serve()
