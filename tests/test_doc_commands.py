"""Every experiment command the README, the docs, the notebooks and the scripts' own
docstrings show still parses: each runs with ``--dry_run`` (its config resolved and checked,
its run directories named, nothing written)."""

import ast
import json
import pathlib
import re
import shlex

import pytest
from helpers import cli_batch

REPO = pathlib.Path(__file__).resolve().parents[1]

# "python experiments/NAME.py" and what follows on its (joined) line, up to the end of a
# code span, a table cell or a comment
_COMMAND = re.compile(r"python experiments/([a-z0-9_]+)\.py((?:[^`|\n#])*)")
_TAKES_VALUE = ("--config", "--workdir", "--only", "--reuse")
# a documented --reuse names the user's own sweep directory: a dry run checks it is one, so one of results/ stands in
_REUSE = str(REPO / "results" / "table1_mlp")


def _texts():
  for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
    yield path, path.read_text()
  for path in sorted((REPO / "notebooks").glob("*.ipynb")):
    cells = json.loads(path.read_text())["cells"]
    yield path, "\n".join("".join(cell["source"]) for cell in cells)
  for path in [*sorted((REPO / "experiments").glob("*.py")), *sorted((REPO / "rethink_jax" / "configs").glob("*.py"))]:
    yield path, ast.get_docstring(ast.parse(path.read_text())) or ""


def _arguments(tail: str) -> tuple[str, ...]:
  """The flags of a documented command: optional parts ``[...]`` included, prose after the
  last flag left out, placeholders (``...``, ``ROW``) made concrete."""
  args, expect_value = [], False
  tail = tail.replace("[", " ").replace("]", " ")
  try:
    tokens = shlex.split(tail)  # the shell's quoting: --config.sweep.models="('a','b')"
  except ValueError:  # an apostrophe in the prose after the command
    tokens = tail.split()
  for token in tokens:
    if token.endswith("=..."):
      continue
    token = token.rstrip(".,;`")
    if expect_value:
      args.append(_REUSE if args[-1] == "--reuse" else token.replace(":ROW", ":all"))
      expect_value = False
    elif token.startswith("--"):
      args.append(token)
      expect_value = token in _TAKES_VALUE
    else:
      break
  return tuple(args)


def documented_commands() -> list[tuple[str, tuple[str, ...], str]]:
  found = {}
  for path, text in _texts():
    text = re.sub(r"\\\n\s*", " ", text)  # shell line continuations
    for match in _COMMAND.finditer(text):
      key = (match.group(1), _arguments(match.group(2)))
      found.setdefault(key, str(path.relative_to(REPO)))
  return [(script, args, where) for (script, args), where in sorted(found.items())]


COMMANDS = documented_commands()


def test_the_docs_show_a_command_for_every_experiment():
  scripts = {p.stem for p in (REPO / "experiments").glob("*.py")}
  assert {script for script, _, _ in COMMANDS} == scripts
  assert len(COMMANDS) > 30  # the extraction found the docs' commands, not just the bare script names


def test_extraction_keeps_flags_and_drops_prose():
  assert _arguments(" --config a.py:paper --config.x=1 (the rest)") == ("--config", "a.py:paper", "--config.x=1")
  assert _arguments(""" --config.m="('a','b')" --config.n=2.""") == ("--config.m=('a','b')", "--config.n=2")
  assert _arguments(" [--config a.py:paper] [--config.model=...]") == ("--config", "a.py:paper")
  assert _arguments("; pass flags with it") == ()


@pytest.fixture(scope="module")
def dry_runs(tmp_path_factory):
  """Every documented command with ``--dry_run``, each in its own process and empty working
  directory (helpers/cli_batch.py: one JAX import for all of them)."""
  argvs = [[REPO / "experiments" / f"{script}.py", *args, *(() if "--dry_run" in args else ("--dry_run",))]
           for script, args, _ in COMMANDS]
  return cli_batch.run_in_new_dirs(argvs, tmp_path_factory)


@pytest.mark.xdist_group("doc_commands")  # one worker runs the batch, once
@pytest.mark.parametrize("index", range(len(COMMANDS)), ids=[f"{s}:{' '.join(a)[:60]}" for s, a, _ in COMMANDS])
def test_documented_command_runs_as_a_dry_run(dry_runs, index):
  script, args, where = COMMANDS[index]
  out, cwd = dry_runs[index]
  assert out.returncode == 0, f"{where}: python experiments/{script}.py {' '.join(args)}\n{out.stderr[-2000:]}"
  assert out.stdout.rstrip().endswith("dry run: nothing was trained or written."), where
  assert not any(cwd.iterdir()), where  # a dry run writes nothing
