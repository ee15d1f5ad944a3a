"""Images/second of a full train step (forward, backward, SGD momentum update, BatchNorm)
at batch 128 for each of the paper's CIFAR-10 models, in JAX and, where installed, in
PyTorch (same architecture, same batch, same threads, same run); prints the ratio.

  python benchmarks/train_throughput.py [--models mlp_1x512,inception_small] [--steps 20]

Convolutional models are timed with both convolution formulations (``conv_impl``: XLA's
convolution and im2col as one matrix product); the ratio uses the faster of each side.

PyTorch is not a dependency; install it to compare (`pip install torch`).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from rethink_jax import models, train
from rethink_jax.configs import common


def time_jax(name: str, batch_size: int, steps: int, warmup: int, conv_impl: str = "xla") -> float:
  config = common.set_model(common.base_config(), name)
  config.batch_size = batch_size
  config.conv_impl = conv_impl
  keys = train.stream_keys(0)
  graphdef, state = train.create_train_state(config, keys["init"], (28, 28, 3), 10)
  step = jax.jit(train.make_train_step(graphdef, config, keys["dropout"]), donate_argnums=0)
  rng = np.random.default_rng(0)
  batch = {"image": jnp.asarray(rng.normal(size=(batch_size, 28, 28, 3)), jnp.float32),
           "label": jnp.asarray(rng.integers(0, 10, batch_size), jnp.int32)}
  for _ in range(warmup):
    state, m = step(state, batch)
  jax.block_until_ready(state)
  t0 = time.perf_counter()
  for _ in range(steps):
    state, m = step(state, batch)
  jax.block_until_ready(state)
  return steps * batch_size / (time.perf_counter() - t0)


def torch_model(name: str):
  import torch
  from torch import nn

  class ConvModule(nn.Module):
    def __init__(self, cin, cout, k, s, bn):
      super().__init__()
      self.conv = nn.Conv2d(cin, cout, k, s, padding=k // 2, bias=not bn)
      self.bn = nn.BatchNorm2d(cout, affine=False) if bn else None
      self.beta = nn.Parameter(torch.zeros(cout)) if bn else None  # offset only, as in the paper

    def forward(self, x):
      x = self.conv(x)
      if self.bn is not None:
        x = self.bn(x) + self.beta[None, :, None, None]
      return torch.relu(x)

  class Inception(nn.Module):
    def __init__(self, cin, c1, c3, bn):
      super().__init__()
      self.b1, self.b3 = ConvModule(cin, c1, 1, 1, bn), ConvModule(cin, c3, 3, 1, bn)

    def forward(self, x):
      return torch.cat([self.b1(x), self.b3(x)], 1)

  class Down(nn.Module):
    def __init__(self, cin, c3, bn):
      super().__init__()
      self.conv = ConvModule(cin, c3, 3, 2, bn)
      self.pool = nn.MaxPool2d(3, 2, padding=1)

    def forward(self, x):
      return torch.cat([self.conv(x), self.pool(x)], 1)

  if name.startswith("mlp"):
    depth = 1 if name == "mlp_1x512" else 3
    dims = [2352] + [512] * depth
    layers = [nn.Flatten()]
    for a, b in zip(dims[:-1], dims[1:]):
      layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(512, 10))
  if name == "alexnet_small":
    block = lambda cin: [nn.Conv2d(cin, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1),
                         nn.LocalResponseNorm(9, alpha=0.001, beta=0.75, k=1.0)]
    return nn.Sequential(*block(3), *block(64), nn.Flatten(), nn.Linear(3136, 384), nn.ReLU(),
                         nn.Linear(384, 192), nn.ReLU(), nn.Linear(192, 10))
  bn = name == "inception_small"
  from rethink_jax.models.inception import STAGES
  layers, cin = [ConvModule(3, 96, 3, 1, bn)], 96
  for kind, widths in STAGES:
    if kind == "inc":
      layers.append(Inception(cin, *widths, bn))
      cin = sum(widths)
    else:
      layers.append(Down(cin, widths[0], bn))
      cin += widths[0]
  return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10))


def time_torch(name: str, batch_size: int, steps: int, warmup: int, channels_last: bool) -> tuple[float, int]:
  import torch

  model = torch_model(name)
  n_params = sum(p.numel() for p in model.parameters())
  opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
  x = torch.randn(batch_size, 3, 28, 28)
  y = torch.randint(0, 10, (batch_size,))
  if channels_last and not name.startswith("mlp"):
    model = model.to(memory_format=torch.channels_last)
    x = x.to(memory_format=torch.channels_last)
  loss_fn = torch.nn.CrossEntropyLoss()

  def step():
    opt.zero_grad(set_to_none=True)
    loss_fn(model(x), y).backward()
    opt.step()

  for _ in range(warmup):
    step()
  t0 = time.perf_counter()
  for _ in range(steps):
    step()
  return steps * batch_size / (time.perf_counter() - t0), n_params


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--models", default=",".join(models.NAMES))
  parser.add_argument("--batch-size", type=int, default=128)
  parser.add_argument("--steps", type=int, default=0, help="timed steps (default: by model size)")
  parser.add_argument("--no-torch", action="store_true")
  args = parser.parse_args()

  try:
    import torch
    have_torch = not args.no_torch
  except ImportError:
    have_torch = False
  print(f"device: {jax.devices()[0].device_kind} x{jax.device_count()} ({jax.default_backend()}), "
        f"{os.cpu_count()} CPU threads, {platform.processor() or platform.machine()}")
  print(f"jax {jax.__version__}" + (f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
                                    if have_torch else ", torch not installed"))
  print(f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r} (set by rethink_jax.cpu_flags; RETHINK_JAX_CPU_FLAGS=0 keeps XLA's defaults)")
  print(f"batch {args.batch_size}, full train step (forward, backward, SGD momentum, BN)\n")
  header = f"{'model':22s} {'params':>10s} {'jax img/s':>11s} {'jax im2col':>11s}"
  if have_torch:
    header += f" {'torch img/s':>12s} {'torch CL':>10s} {'jax/torch':>10s}"
  print(header)
  for name in args.models.split(","):
    small = name.startswith("mlp")
    steps = args.steps or (100 if small else 5)
    warmup = 5 if small else 2
    n = models.PAPER_PARAM_COUNTS[name]
    j_xla = time_jax(name, args.batch_size, steps, warmup)
    j_im2col = j_xla if small else time_jax(name, args.batch_size, steps, warmup, conv_impl="im2col")
    j = max(j_xla, j_im2col)
    line = f"{name:22s} {n:>10,d} {j_xla:>11.1f} {'—' if small else f'{j_im2col:.1f}':>11s}"
    if have_torch:
      t, tn = time_torch(name, args.batch_size, steps, warmup, channels_last=False)
      tcl = t if small else time_torch(name, args.batch_size, steps, warmup, channels_last=True)[0]
      assert tn == n, f"PyTorch {name} has {tn} parameters, expected {n}"
      line += f" {t:>12.1f} {tcl:>10.1f} {j / max(t, tcl):>10.2f}"  # best JAX over best PyTorch
    print(line, flush=True)


if __name__ == "__main__":
  main()
