#!/usr/bin/env python3
"""Benchmark peer: PyTorch on the CPU (Debian's python3-torch, 2 threads), or on a CUDA GPU.

Reads one JSON request from argv[1] (or stdin when there is no argument) and prints one JSON line:
  {"kind": "available"}
  {"kind": "matmul", "m": M, "n": N, "k": K, "mode": "x·W" | "dy·Wᵀ" | "xᵀ·dy", "reps": R}
      C[m,n] with inner dimension k: x·W = A[m,k]·B[k,n]; dy·Wᵀ = A[m,k]·B[n,k]ᵀ;
      xᵀ·dy = A[k,m]ᵀ·B[k,n]. Median of R timed runs after two warm-ups.
  {"kind": "step", "config": {"nLayers","dModel","nHeads","T","B","vocab"},
   "weights": "model.safetensors", "batch": "batch.json", "reps": R}
      One GPT-2 training step per repetition (pre-LN blocks, causal attention, GELU tanh, tied LM
      head, F.cross_entropy mean, torch.optim.AdamW lr 1e-4 wd 0.1), forward + backward + step
      timed. One untimed warm-up step first; its loss (before any update) is "loss".
Every request may say "device": "cuda" (default "cpu"): the same work on the GPU in fp32 with TF32
off (the numbers wgpt computes), each timed run ending on torch.cuda.synchronize(); "available"
then says "cuda" (true/false) and "cuda_device".
Output: {"impl": "torch-cpu" | "torch-cuda", "version", "threads", "blas", ["blas_warning"], "ms", "ms_min", "ms_max", "cpu_ms",
         "gflops" | "tokens_per_s", "loss", "loss_last"}, or {"error": "..."} with exit status 1.
Weights are read from safetensors by hand (no safetensors package): 8-byte little-endian header
length, JSON header, raw little-endian data.
"""
import json
import math
import struct
import sys
import time

THREADS = 2


def fail(msg):
    print(json.dumps({"error": msg}))
    sys.stdout.flush()
    sys.exit(1)


try:
    import torch
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001 - any import failure means the peer is missing
    fail(f"cannot import torch: {e}")

torch.set_num_threads(THREADS)
# fp32 on the GPU as on the CPU: TF32 would round the inputs of every matmul to 10-bit mantissas.
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
DEVICE = "cpu"


def sync():
    """Ends a timed run where the GPU's work ends (CUDA launches return before the kernels run)."""
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 == 1 else (s[n // 2 - 1] + s[n // 2]) / 2


def stats(times, cpu):
    """Wall ms (median, min, max) and median process CPU ms (all threads) per repetition."""
    return {"ms": median(times), "ms_min": min(times), "ms_max": max(times), "cpu_ms": median(cpu)}


def blas():
    """The BLAS library torch's matmuls actually run on (Debian's torch uses the system libblas.so.3
    alternative, which is the slow reference BLAS unless OpenBLAS or BLIS is installed)."""
    torch.mm(torch.ones(2, 2), torch.ones(2, 2))
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                name = path.rsplit("/", 1)[-1].lower()
                if "blas" in name or "blis" in name or "mkl" in name:
                    libs.add(path)
    except OSError:
        return {"blas": "unknown"}
    if not libs:
        return {"blas": "unknown"}
    out = {"blas": ", ".join(sorted(libs))}
    if any("/blas/libblas.so" in p for p in libs) and not any("openblas" in p or "blis" in p or "mkl" in p for p in libs):
        out["blas_warning"] = "reference BLAS (netlib): matmuls are ~10x slower than with OpenBLAS (apt-get install libopenblas0-pthread)"
    return out


_BLAS = None


def base():
    global _BLAS
    if DEVICE == "cuda":
        return {"impl": "torch-cuda", "version": torch.__version__, "cuda_device": torch.cuda.get_device_name(0),
                "blas": "cuBLAS (fp32, TF32 off)"}
    if _BLAS is None:
        _BLAS = blas()
    return {"impl": "torch-cpu", "version": torch.__version__, "threads": torch.get_num_threads(), **_BLAS}


def read_safetensors(path):
    dtypes = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = bytearray(f.read())
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = dtypes.get(info["dtype"])
        if dt is None:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        count = (end - begin) // torch.tensor([], dtype=dt).element_size()
        t = torch.frombuffer(data, dtype=dt, count=count, offset=begin) if count > 0 else torch.empty(0, dtype=dt)
        out[name] = t.reshape(info["shape"]).to(torch.float32).clone()
    return out


def matmul(req):
    m, n, k, mode, reps = int(req["m"]), int(req["n"]), int(req["k"]), req["mode"], int(req.get("reps", 5))
    if reps < 1:
        raise ValueError("reps must be >= 1")
    g = torch.Generator().manual_seed(1)

    def rand(*shape):
        return torch.rand(*shape, generator=g).to(DEVICE)

    if mode == "x·W":
        a, b = rand(m, k), rand(k, n)
        f = lambda: torch.mm(a, b)  # noqa: E731
    elif mode == "dy·Wᵀ":
        a, b = rand(m, k), rand(n, k)
        f = lambda: torch.mm(a, b.t())  # noqa: E731
    elif mode == "xᵀ·dy":
        a, b = rand(k, m), rand(k, n)
        f = lambda: torch.mm(a.t(), b)  # noqa: E731
    else:
        raise ValueError(f"unknown matmul mode {mode!r}")
    times, cpu = [], []
    with torch.no_grad():
        for i in range(reps + 2):
            sync()
            c0 = time.process_time()
            t0 = time.perf_counter()
            c = f()
            sync()
            dt = (time.perf_counter() - t0) * 1000
            dc = (time.process_time() - c0) * 1000
            del c
            if i >= 2:
                times.append(dt)
                cpu.append(dc)
    r = {**base(), **stats(times, cpu)}
    r["gflops"] = 2.0 * m * n * k / (r["ms"] * 1e6)
    return r


def step(req):
    cfg = req["config"]
    L, D, H, T, B, V = (int(cfg[k]) for k in ("nLayers", "dModel", "nHeads", "T", "B", "vocab"))
    reps = int(req.get("reps", 2))
    if reps < 1:
        raise ValueError("reps must be >= 1")
    if D % H != 0:
        raise ValueError(f"dModel {D} is not a multiple of nHeads {H}")
    hd = D // H
    P = {name: t.to(DEVICE) for name, t in read_safetensors(req["weights"]).items()}
    expect = {"wte.weight": [V, D], "wpe.weight": [T, D], "ln_f.weight": [D], "ln_f.bias": [D]}
    for l in range(L):
        p = f"h.{l}."
        expect.update({
            p + "ln_1.weight": [D], p + "ln_1.bias": [D],
            p + "attn.c_attn.weight": [D, 3 * D], p + "attn.c_attn.bias": [3 * D],
            p + "attn.c_proj.weight": [D, D], p + "attn.c_proj.bias": [D],
            p + "ln_2.weight": [D], p + "ln_2.bias": [D],
            p + "mlp.c_fc.weight": [D, 4 * D], p + "mlp.c_fc.bias": [4 * D],
            p + "mlp.c_proj.weight": [4 * D, D], p + "mlp.c_proj.bias": [D],
        })
    for name, shape in expect.items():
        if name not in P:
            raise ValueError(f"{req['weights']}: missing tensor {name}")
        if list(P[name].shape) != shape:
            raise ValueError(f"{req['weights']}: {name} has shape {list(P[name].shape)}, expected {shape}")
    params = [P[name].requires_grad_(True) for name in expect]
    with open(req["batch"]) as f:
        batch = json.load(f)
    idx = torch.tensor(batch["inputs"], dtype=torch.long, device=DEVICE).view(B, T)
    tgt = torch.tensor(batch["targets"], dtype=torch.long, device=DEVICE).view(B * T)
    causal = torch.ones(T, T, dtype=torch.bool, device=DEVICE).triu(1)
    scale = 1.0 / math.sqrt(hd)

    def linear(x, prefix):  # Hugging Face Conv1D: y = x·W + b, W [in, out]
        return torch.addmm(P[prefix + ".bias"], x.reshape(-1, x.shape[-1]), P[prefix + ".weight"]).view(*x.shape[:-1], -1)

    def forward():
        x = P["wte.weight"][idx] + P["wpe.weight"][:T]
        for l in range(L):
            p = f"h.{l}."
            h = F.layer_norm(x, (D,), P[p + "ln_1.weight"], P[p + "ln_1.bias"], 1e-5)
            q, k, v = linear(h, p + "attn.c_attn").split(D, dim=2)
            q, k, v = (t.view(B, T, H, hd).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-2, -1)) * scale
            att = att.masked_fill(causal, float("-inf")).softmax(dim=-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, D)
            x = x + linear(y, p + "attn.c_proj")
            h = F.layer_norm(x, (D,), P[p + "ln_2.weight"], P[p + "ln_2.bias"], 1e-5)
            x = x + linear(F.gelu(linear(h, p + "mlp.c_fc"), approximate="tanh"), p + "mlp.c_proj")
        x = F.layer_norm(x, (D,), P["ln_f.weight"], P["ln_f.bias"], 1e-5)
        logits = x.view(B * T, D) @ P["wte.weight"].t()
        return F.cross_entropy(logits, tgt)

    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.1)

    def one():
        opt.zero_grad(set_to_none=True)
        loss = forward()
        loss.backward()
        opt.step()
        return loss.item()

    loss = one()
    if not math.isfinite(loss):
        raise ValueError(f"first-step loss is {loss}")
    times, cpu = [], []
    loss_last = loss
    for _ in range(reps):
        sync()
        c0 = time.process_time()
        t0 = time.perf_counter()
        loss_last = one()  # loss.item() waits for the GPU as well
        sync()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    r = {**base(), **stats(times, cpu)}
    r["tokens_per_s"] = B * T / (r["ms"] / 1000)
    r["loss"] = loss
    r["loss_last"] = loss_last
    return r


def main():
    try:
        raw = sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read()
        req = json.loads(raw) if raw.strip() else {"kind": "available"}
        kind = req.get("kind")
        global DEVICE
        DEVICE = req.get("device", "cpu")
        if DEVICE not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {DEVICE!r}: use cpu or cuda")
        if DEVICE == "cuda" and not torch.cuda.is_available():
            raise ValueError("torch sees no CUDA GPU")
        if kind == "available":
            cuda = torch.cuda.is_available()
            out = {"ok": True, **base(), "cuda": cuda, "cuda_device": torch.cuda.get_device_name(0) if cuda else None}
        elif kind == "matmul":
            out = matmul(req)
        elif kind == "step":
            out = step(req)
        else:
            raise ValueError(f"unknown request kind {kind!r}")
    except Exception as e:  # noqa: BLE001 - reported as JSON to the caller
        fail(f"{type(e).__name__}: {e}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
