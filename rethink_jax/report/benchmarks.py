"""The tables of the benchmarks in ``benchmarks/``, from the ``results.json`` each writes with
``--out DIR`` (:func:`rethink_jax.records.write_results`). The scripts live outside the
package; the format each writes is declared here, where it is read: each function names the
fields it reads and returns the table's lines (:mod:`rethink_jax.report.results` adds the
title, the data and the devices).

Every record also holds ``config`` (the script's arguments), ``dataset`` and
``environment``; the CPU benchmarks add ``cpu_threads`` (``os.cpu_count()``). Repeated
measurements are kept as lists, one entry per repetition."""

from __future__ import annotations

from rethink_jax.report.common import data_label, mean_sd


def _cpu(saved: dict) -> str:
  return f"CPU: {saved.get('environment', {}).get('cpu', '?')}, {saved['cpu_threads']} threads."


def train_throughput(saved: dict) -> list[str]:
  """``benchmarks/train_throughput.py``: train-step images/s per model, JAX against PyTorch.

  Reads ``rows``: per model, ``model``, ``params`` and ``images_per_s`` (``{variant: [images/s
  per repetition]}``, variants ``jax``, ``jax_im2col``, ``jax_run``, ``torch``,
  ``torch_channels_last``, those measured; records made before ``jax_run`` render without its
  column), and with PyTorch ``ratio`` (the best JAX variant's mean over the best
  PyTorch variant's) and ``ratio_per_repeat``; ``config.batch_size`` and ``config.repeats``;
  ``torch`` and ``torch_threads`` (None without PyTorch); ``cpu_threads``."""
  in_run = any("jax_run" in r["images_per_s"] for r in saved["rows"])  # records before it lack the column
  lines = ["| model | params | JAX img/s | JAX im2col |" + (" JAX in a run |" if in_run else "")
           + " torch img/s | torch CL img/s | JAX / best torch |",
           "|---|---:|---:|---:|" + ("---:|" if in_run else "") + "---:|---:|---:|"]
  for r in saved["rows"]:
    t = r["images_per_s"]
    cell = lambda key: mean_sd(t[key]) if key in t else "—"
    ratio = (f"**{r['ratio']:.2f}** ({min(r['ratio_per_repeat']):.2f}-{max(r['ratio_per_repeat']):.2f})"
             if "ratio" in r else "—")
    lines.append(f"| {r['model']} | {r['params']:,} | {cell('jax')} | {cell('jax_im2col')} | "
                 + (f"{cell('jax_run')} | " if in_run else "")
                 + f"{cell('torch')} | {cell('torch_channels_last')} | {ratio} |")
  cfg = saved["config"]
  torch = (f"PyTorch {saved['torch']} ({saved['torch_threads']} threads)" if saved.get("torch")
           else "PyTorch not installed")
  run_note = (" JAX in a run: the steps a training run executes (each batch gathered from 50,000 stored uint8 "
              "images, cropped and standardized on the device, then the same step); the ratio leaves it out."
              if in_run else "")
  return lines + ["", f"Batch {cfg['batch_size']}, images/s as mean ± sd over {cfg['repeats']} repetitions "
                      f"(JAX and PyTorch alternating); the ratio is the best JAX variant's mean over the best "
                      f"PyTorch variant's, with its range over the repetitions.{run_note} {torch}; {_cpu(saved)}"]


def vmapped_sweep(saved: dict) -> list[str]:
  """``benchmarks/vmapped_sweep.py``: a label-corruption sweep run sequentially and as one
  vmapped program.

  Reads ``runs`` (corruption levels), ``steps`` (per run), ``wall_seconds`` (``{"sequential",
  "vmapped"}``: seconds per repetition), ``max_accuracy_difference`` (the largest difference
  of the two ways' final accuracies), ``config.model``, ``config.repeats`` and
  ``cpu_threads``."""
  import statistics

  walls, runs, steps = saved["wall_seconds"], saved["runs"], saved["steps"]
  lines = ["| | wall time | run-steps/s |", "|---|---:|---:|"]
  for key, label in (("sequential", f"{runs} sequential runs"), ("vmapped", "one vmapped program")):
    lines.append(f"| {label} | {mean_sd(walls[key])} s | {runs * steps / statistics.mean(walls[key]):.1f} |")
  per_rep = [a / b for a, b in zip(walls["sequential"], walls["vmapped"])]
  speedup = statistics.mean(walls["sequential"]) / statistics.mean(walls["vmapped"])
  cfg = saved["config"]
  return lines + [f"| speedup | **{speedup:.2f}x** ({min(per_rep):.2f}-{max(per_rep):.2f}) | |", "",
                  f"{cfg['model']}, {runs} corruption levels, {steps} steps per run, wall time (setup, compilation "
                  f"and evaluation included) as mean ± sd over {cfg['repeats']} repetitions; largest difference of "
                  f"the two ways' final accuracies: {saved['max_accuracy_difference']:.4f}. {_cpu(saved)}"]


def subset_runs(saved: dict) -> list[str]:
  """``benchmarks/subset_runs.py``: K subset-trained runs as one vmapped program and one after
  another, for several K.

  Reads ``rows``: per K, ``runs``, ``vmapped_seconds`` and ``sequential_seconds`` (seconds
  per repetition; the latter empty where not measured), ``vmapped_images_per_second``,
  ``sequential_images_per_second`` and ``peak_rss_gb``; ``steps`` (per run),
  ``batch_size``, ``dataset``, ``config.model``, ``config.ratio``, ``config.repeats`` and
  ``cpu_threads``."""
  import statistics

  def cell(xs):
    return f"{statistics.median(xs):.1f} ({min(xs):.1f}-{max(xs):.1f})"

  lines = ["| K runs | vmapped: wall s | images/s | sequential: wall s | images/s | speedup | peak RSS GB |",
           "|---:|---:|---:|---:|---:|---:|---:|"]
  for r in saved["rows"]:
    seq = r["sequential_seconds"]
    speedup = f"{statistics.median(seq) / statistics.median(r['vmapped_seconds']):.2f}x" if seq else "—"
    lines.append(f"| {r['runs']} | {cell(r['vmapped_seconds'])} | {r['vmapped_images_per_second']:,.0f} | "
                 f"{cell(seq) if seq else 'not run'} | "
                 f"{'—' if not seq else format(r['sequential_images_per_second'], ',.0f')} | {speedup} | "
                 f"{r['peak_rss_gb']:.2f} |")
  cfg = saved["config"]
  return lines + ["", f"{cfg['model']} on {data_label(saved['dataset'])}, each run on its own random "
                      f"{cfg['ratio']:.0%} subset, {saved['steps']} steps of batch {saved['batch_size']} per run; wall "
                      f"time (setup, compilation and the end-of-training predictions included) as median (min-max) "
                      f"over {cfg['repeats']} repetitions, the two ways alternating; peak RSS is the process's "
                      f"largest so far (K increasing). {_cpu(saved)}"]


def minnorm_scaling(saved: dict) -> list[str]:
  """``benchmarks/minnorm_scaling.py``: min-norm interpolation's time and memory against n.

  Reads ``rows``: per (n, solver), ``n``, ``solver``, ``seconds``, ``floor_seconds`` (Gram
  time plus n^3/3 at the GEMM rate; None where not measured), ``gemm_gflops``,
  ``peak_rss_gb``, ``residual`` (relative), ``iterations`` and ``test_error``;
  ``config.bandwidth``, ``config.dtype`` and ``config.backend``; ``n_test`` and
  ``cpu_threads``."""
  lines = ["| n | solver | seconds | floor | / floor | peak RSS | relative residual | iterations | test error |",
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
  for r in saved["rows"]:
    floor = r.get("floor_seconds")
    floor_cells = f"{floor:.1f} | {r['seconds'] / floor:.2f}x" if floor else "— | —"
    lines.append(f"| {r['n']:,} | {r['solver']} | {r['seconds']:.1f} | {floor_cells} | {r['peak_rss_gb']:.1f} GB | "
                 f"{r['residual']:.1e} | {r['iterations']} | {100 * r['test_error']:.2f}% |")
  cfg = saved["config"]
  rates = sorted({round(r["gemm_gflops"]) for r in saved["rows"] if r.get("gemm_gflops")})
  rate = (f"; measured GEMM rate {rates[0]}" + (f"-{rates[-1]}" if len(rates) > 1 else "") + " GFLOP/s"
          if rates else "")
  return lines + ["", f"Gaussian kernel (bandwidth {cfg['bandwidth']:g}) on raw pixels in [0, 1], Gram matrix in "
                      f"{cfg['dtype']}, {cfg['backend']} backend, each row in a fresh process; floor = Gram time + "
                      f"n^3/3 at the float32 GEMM rate{rate}; iterations: the Cholesky's float64 refinement steps, CG's "
                      f"iterations; test error on {saved['n_test']:,} test images. {_cpu(saved)}"]


_CONV_PROFILE_LABELS = {"jax": "JAX, XLA's convolution", "jax_im2col": "JAX, im2col",
                        "torch_channels_last": "PyTorch, channels_last"}


def conv_profile(saved: dict) -> list[str]:
  """``benchmarks/conv_profile.py``: one convolution's forward, input-gradient and
  weight-gradient passes per implementation.

  Reads ``ms``: ``{implementation: {"forward", "input_grad", "weight_grad": [ms per call, per
  repetition]}}`` (implementations ``jax``, ``jax_im2col``, ``torch_channels_last``);
  ``gflop`` (per pass); ``config``: ``batch``, ``size``, ``cin``, ``cout``, ``repeats`` and
  ``kernel`` (3 in records from before ``--kernel``); ``xla_flags``; ``torch`` (None without
  PyTorch); ``cpu_threads``."""
  import statistics

  gflop = saved["gflop"]
  lines = ["| | forward | input gradient | weight gradient |", "|---|---:|---:|---:|"]
  for name, passes in saved["ms"].items():
    cells = [f"{mean_sd(passes[p])} ms ({gflop / statistics.mean(passes[p]) * 1e3:.0f} GFLOP/s)"
             for p in ("forward", "input_grad", "weight_grad")]
    lines.append(f"| {_CONV_PROFILE_LABELS.get(name, name)} | " + " | ".join(cells) + " |")
  cfg = saved["config"]
  flags = f"`XLA_FLAGS={saved['xla_flags']}`" if saved.get("xla_flags") else "XLA's default flags"
  torch = f"PyTorch {saved['torch']}" if saved.get("torch") else "PyTorch not installed"
  k = cfg.get("kernel", 3)  # records from before --kernel existed are 3x3
  return lines + ["", f"One {k}x{k} convolution, batch {cfg['batch']}, {cfg['size']}x{cfg['size']}, {cfg['cin']} -> "
                      f"{cfg['cout']} channels ({gflop:.2f} GFLOP per pass), ms per call as mean ± sd over "
                      f"{cfg['repeats']} repetitions of 10 calls; {flags}; {torch}. {_cpu(saved)}"]


def track_examples(saved: dict) -> list[str]:
  """``benchmarks/track_examples.py``: whole runs with and without per-example records.

  Reads ``wall_seconds`` (``{"off", "on"}``: seconds per repetition), ``ratios`` (on / off per
  repetition), ``bytes_per_evaluation`` and ``evaluations`` (of a run's ``examples.npz``),
  ``n_train``, ``n_test``, ``config``: ``model``, ``epochs``, ``reps`` and ``vmapped``; and
  ``cpu_threads``."""
  import statistics

  walls, ratios, cfg = saved["wall_seconds"], saved["ratios"], saved["config"]
  lines = ["| per-example records | wall time (median) | min | max |", "|---|---:|---:|---:|"]
  for key, label in (("off", "off"), ("on", "on (`track_examples`)")):
    w = walls[key]
    lines.append(f"| {label} | {statistics.median(w):.1f} s | {min(w):.1f} s | {max(w):.1f} s |")
  runs = f"{cfg['vmapped']} vmapped runs" if cfg["vmapped"] > 1 else "one run"
  return lines + [f"| ratio on / off | **{statistics.median(ratios):.3f}x** (per repetition: "
                  f"{', '.join(f'{r:.3f}' for r in ratios)}) | | |", "",
                  f"{cfg['model']}, {runs}, {cfg['epochs']:g} epochs of {saved['n_train']:,} training images, evaluated "
                  f"on the {saved['n_train']:,} training and {saved['n_test']:,} test images every epoch, "
                  f"{cfg['reps']} repetitions with the two arms alternating (compilation, evaluations and writing "
                  f"included). A run's records take {saved['bytes_per_evaluation'] / 1e3:.0f} kB per evaluation (its "
                  f"`examples.npz` over its {saved['evaluations']} evaluations). {_cpu(saved)}"]


def accelerator(saved: dict) -> list[str]:
  """``benchmarks/accelerator.py``: one GPU or TPU, its sections recorded as each ends (a
  record cut short by the time budget renders the sections it holds).

  Reads ``device_kind``, ``peak_tflops`` (None if not known), ``config.compute_dtype``;
  ``train_step``: per model and batch, ``model``, ``batch``, ``images_per_s``,
  ``flops_per_step`` and ``mfu`` (None where XLA gave no cost); ``vmapped_sweep``:
  ``runs``, ``model``, ``steps``, ``wall_seconds`` (``{"sequential", "vmapped"}``, one
  repetition) and ``max_accuracy_difference``; ``minnorm_mnist``: ``n_train``, ``seconds``,
  ``peak_device_gb`` (None if the device does not say), ``residual`` and ``test_error``;
  ``headline``: ``model``, ``time_to_fit`` (None if not fitted; ``epoch``, ``seconds``),
  ``epoch_budget``, ``epochs``, ``train_accuracy``, ``test_accuracy`` and
  ``wall_seconds``; and ``total_seconds``."""
  peak = saved["peak_tflops"]
  lines = [f"Device: {saved['device_kind']}; peak {f'{peak:g} TFLOP/s' if peak else 'not known'} "
           f"({saved['config']['compute_dtype']}).", "", "| model | batch | images/s | GFLOP/step | MFU |",
           "|---|---:|---:|---:|---:|"]
  for r in saved.get("train_step", []):
    gflop = f"{r['flops_per_step'] / 1e9:,.1f}" if r["flops_per_step"] else "—"
    mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "—"
    lines.append(f"| {r['model']} | {r['batch']:,} | {r['images_per_s']:,.0f} | {gflop} | {mfu} |")
  if "vmapped_sweep" in saved:
    v = saved["vmapped_sweep"]
    seq, vm = v["wall_seconds"]["sequential"][0], v["wall_seconds"]["vmapped"][0]
    lines += ["", f"Vmapped sweep: {v['runs']} label-corruption runs of {v['model']}, {v['steps']} steps each: "
              f"sequential {seq:.1f} s, one vmapped program {vm:.1f} s (**{seq / vm:.2f}x**); largest final "
              f"accuracy difference {v['max_accuracy_difference']:.4f}."]
  if "minnorm_mnist" in saved:
    m = saved["minnorm_mnist"]
    mem = f"{m['peak_device_gb']:.1f} GB peak device memory" if m["peak_device_gb"] is not None else "peak memory —"
    lines += ["", f"Min-norm on MNIST (raw pixels, Gaussian kernel, backend jax): n = {m['n_train']:,}, "
              f"{m['seconds']:.1f} s, {mem}, residual {m['residual']:.1e}, test error {100 * m['test_error']:.2f}%."]
  if "headline" in saved:
    h = saved["headline"]
    fit = (f"fitted at epoch {h['time_to_fit']['epoch']:.0f} ({h['time_to_fit']['seconds'] / 60:.1f} min of training)"
           if h["time_to_fit"] else f"not fitted within its {h['epoch_budget']:g}-epoch share")
    lines += ["", f"{h['model']} on random labels: {fit}; {h['epochs']:.1f} epochs, train accuracy "
              f"{100 * h['train_accuracy']:.2f}%, test accuracy {100 * h['test_accuracy']:.2f}%, "
              f"{h['wall_seconds'] / 60:.1f} min wall."]
  if "total_seconds" in saved:
    lines += ["", f"Whole run: {saved['total_seconds'] / 60:.1f} min."]
  return lines


def patch_features(saved: dict) -> list[str]:
  """``benchmarks/patch_features.py``: one filter block's featurization, stage by stage, and the Gram's products.

  Reads ``seconds`` (``{"convolution", "features", "features_100", "joined_100", "products"}``:
  seconds per timed pass), ``products_gflops``, ``featurize_seconds_per_1000`` (per stage) and
  ``products_seconds_per_1000`` (the forecast for all of CIFAR-10), ``config``: ``images``,
  ``filters``, ``chunk``, ``reps`` and ``regions``; and ``cpu_threads``."""
  import statistics

  sec, cfg = saved["seconds"], saved["config"]
  med = {k: statistics.median(v) for k, v in sec.items()}
  c = cfg["chunk"]
  label = {"convolution": f"convolution alone, {c} images per call",
           "features": f"`patch_features` (rectified halves pooled apart), {c} images per call",
           "features_100": "`patch_features`, 100 images per call",
           "joined_100": "rectified halves joined, then pooled (the stages composed), 100 images per call",
           "products": "Gram products: one 1,000-row tile at n = 50,000"}
  lines = ["| stage | median | min | max | per 1,000 filters on all of CIFAR-10 |", "|---|---:|---:|---:|---:|"]
  feat, prod = saved["featurize_seconds_per_1000"], saved["products_seconds_per_1000"]
  for key in ("convolution", "features", "features_100", "joined_100", "products"):
    whole = prod if key == "products" else feat[key]
    lines.append(f"| {label[key]} | {med[key] * 1e3:,.1f} ms | {min(sec[key]) * 1e3:,.1f} ms | "
                 f"{max(sec[key]) * 1e3:,.1f} ms | {whole:,.0f} s |")
  return lines + ["", f"{cfg['images']:,} training images, one block of {cfg['filters']:,} filters, "
                  f"{cfg['regions']}x{cfg['regions']} regions, {cfg['reps']} timed passes per stage after one that "
                  f"compiles; the last column scales each median to 60,000 images and 1,000 filters (products: the "
                  f"lower triangle of K_train and all of K_test at {saved['products_gflops']:.0f} GFLOP/s). "
                  f"Joined at 100 per call / pooled apart at {c} per call: "
                  f"**{med['joined_100'] / med['features']:.2f}x**. {_cpu(saved)}"]
