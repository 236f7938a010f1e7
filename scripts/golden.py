#!/usr/bin/python3
"""Golden reference data for the wgpt GPT-2 engine, the llm.c way: a tiny GPT-2 written in plain
PyTorch with Hugging Face parameter names and layout, one batch, its logits/loss/gradients and
three AdamW steps, exported so the TypeScript engine can be compared against it.

Run with Debian's torch:  /usr/bin/python3 scripts/golden.py
(no transformers / safetensors packages needed: the safetensors format is written by hand.)

Writes test/golden/tied/ and test/golden/untied/, each with
  model.safetensors + config.json   the initial weights, HF names, F32, Conv1D layout
  golden.safetensors                logits, grad.<name>, adamw3.<name> (params after 3 steps)
  golden.json                       config, inputs, targets, loss, AdamW settings and losses
and test/golden/confident/ (model, logits, loss and gradients only; see export_confident), and
test/golden/lora/ (PEFT adapters on the tied model: logits, loss, the adapters' gradients and three
AdamW steps with the base frozen; see export_lora), and test/golden/dpo/ (the DPO loss of two
preference pairs; scripts/golden_dpo.py).
See test/golden/README.md.

The math is done in float64 from float32 initial weights and the results are stored as float32,
so the reference itself carries no float32 rounding error.
"""
import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

# vocab 97 (prime, not a power of two), 2 layers, ctx 16 with T=8 (unused positions get zero
# gradient). d=24 with 3 heads (head dim 8) rather than d=32 keeps each directory under 300 KB
# while holding three full parameter sets (initial, gradient, after AdamW).
CFG = dict(vocab_size=97, n_positions=16, n_embd=24, n_layer=2, n_head=3, layer_norm_epsilon=1e-5)
B, T = 2, 8
SEED = 1234
ADAMW = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
STEPS = 3
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'golden')


class Conv1D(nn.Module):
    """HF's GPT-2 linear layer: weight is [in, out] and y = x @ W + b."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.empty(n_out))

    def forward(self, x):
        return x @ self.weight + self.bias


class Attention(nn.Module):
    def __init__(self, d, n_head):
        super().__init__()
        self.n_head = n_head
        self.c_attn = Conv1D(d, 3 * d)
        self.c_proj = Conv1D(d, d)

    def forward(self, x):
        b, t, d = x.shape
        hd = d // self.n_head
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.n_head, hd).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
        mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
        att = att.masked_fill(~mask, float('-inf')).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, d)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.c_fc = Conv1D(d, 4 * d)
        self.c_proj = Conv1D(4 * d, d)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate='tanh'))


class Block(nn.Module):
    def __init__(self, d, n_head, eps):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.attn = Attention(d, n_head)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.mlp = MLP(d)

    def forward(self, x):  # pre-LN residual block, dropout 0
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    def __init__(self, c, tied):
        super().__init__()
        d = c['n_embd']
        self.tied = tied
        self.wte = nn.Embedding(c['vocab_size'], d)
        self.wpe = nn.Embedding(c['n_positions'], d)
        self.h = nn.ModuleList(Block(d, c['n_head'], c['layer_norm_epsilon']) for _ in range(c['n_layer']))
        self.ln_f = nn.LayerNorm(d, eps=c['layer_norm_epsilon'])
        if not tied:
            self.lm_head = nn.Linear(d, c['vocab_size'], bias=False)  # [vocab, d] like HF

    def forward(self, idx):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        head = self.wte.weight if self.tied else self.lm_head.weight
        return x @ head.t()


def init_params(model, n_layer):
    """GPT-2's init (N(0, 0.02), residual projections scaled by 1/sqrt(2L)), except LayerNorm
    and bias parameters get small random values instead of 1/0 so that a kernel ignoring
    gamma, beta or a bias shows up in the comparison."""
    g = torch.Generator().manual_seed(SEED)
    for name, p in model.named_parameters():
        with torch.no_grad():
            if name == 'lm_head.weight':
                continue  # set from wte below
            if '.ln_' in name or name.startswith('ln_f'):
                base = 1.0 if name.endswith('weight') else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith('bias'):
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
            else:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith('c_proj.weight') else 0.02
                p.copy_(std * torch.randn(p.shape, generator=g))
    if not model.tied:
        with torch.no_grad():
            model.lm_head.weight.copy_(model.wte.weight)  # starts equal, then trained separately


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, float tensor); stored as little-endian F32, header padded to 8."""
    header = {'__metadata__': {'format': 'pt', **(metadata or {})}}
    blobs, off = [], 0
    for name, t in tensors:
        data = t.detach().to(torch.float32).contiguous().numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(',', ':')).encode('utf-8')
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for blob in blobs:
            f.write(blob)


def hf_config(tied):
    return {
        'model_type': 'gpt2', 'architectures': ['GPT2LMHeadModel'], 'activation_function': 'gelu_new',
        'vocab_size': CFG['vocab_size'], 'n_positions': CFG['n_positions'], 'n_ctx': CFG['n_positions'],
        'n_embd': CFG['n_embd'], 'n_layer': CFG['n_layer'], 'n_head': CFG['n_head'], 'n_inner': None,
        'layer_norm_epsilon': CFG['layer_norm_epsilon'], 'resid_pdrop': 0.0, 'embd_pdrop': 0.0,
        'attn_pdrop': 0.0, 'initializer_range': 0.02, 'bos_token_id': 50256, 'eos_token_id': 50256,
        'scale_attn_weights': True, 'tie_word_embeddings': tied,
    }


def make_batch():
    g = torch.Generator().manual_seed(SEED + 1)
    seq = torch.randint(0, CFG['vocab_size'], (B, T + 1), generator=g)
    inputs, targets = seq[:, :-1].clone(), seq[:, 1:].clone()
    targets[0, 2] = -100  # a masked position in the middle
    targets[1, 5:] = -100  # a masked tail, as with padded instruction data
    return inputs, targets


def export(tied):
    torch.manual_seed(SEED)
    model = GPT2(CFG, tied)
    init_params(model, CFG['n_layer'])
    out = os.path.join(OUT, 'tied' if tied else 'untied')
    os.makedirs(out, exist_ok=True)
    init = [(n, p.detach().clone()) for n, p in model.named_parameters()]
    write_safetensors(os.path.join(out, 'model.safetensors'), init)
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump(hf_config(tied), f, indent=2)
        f.write('\n')

    model = model.double()
    inputs, targets = make_batch()
    logits = model(inputs)
    loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-100)
    loss.backward()
    grads = [('grad.' + n, p.grad.detach().clone()) for n, p in model.named_parameters()]

    # AdamW on a fresh copy of the same weights, on the same batch every step; weight decay on
    # all parameters (embeddings, biases and LayerNorms included), as the book's training loop.
    model.zero_grad(set_to_none=True)
    opt = torch.optim.AdamW(model.parameters(), **ADAMW)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=True)
        lg = model(inputs)
        l = F.cross_entropy(lg.view(-1, lg.size(-1)), targets.view(-1), ignore_index=-100)
        losses.append(l.item())
        l.backward()
        opt.step()
    with torch.no_grad():
        lg = model(inputs)
        loss_after = F.cross_entropy(lg.view(-1, lg.size(-1)), targets.view(-1), ignore_index=-100).item()
    after = [('adamw3.' + n, p.detach().clone()) for n, p in model.named_parameters()]

    write_safetensors(os.path.join(out, 'golden.safetensors'),
                      [('logits', logits.detach())] + grads + after)
    meta = {
        'config': CFG, 'tied': tied, 'seed': SEED, 'torch': torch.__version__,
        'B': B, 'T': T, 'inputs': inputs.tolist(), 'targets': targets.tolist(),
        'loss': loss.item(),
        'adamw': {**ADAMW, 'betas': list(ADAMW['betas']), 'steps': STEPS, 'decay_all_params': True},
        'adamw_losses': losses, 'loss_after_adamw': loss_after,
        'param_names': [n for n, _ in init],
    }
    with open(os.path.join(out, 'golden.json'), 'w') as f:
        json.dump(meta, f, indent=1)
        f.write('\n')
    print(f"{'tied' if tied else 'untied'}: loss {loss.item():.6f}, AdamW losses {losses}, after {loss_after:.6f}")


# The confident case: a trained model's rows, where the target takes nearly all the probability and
# the logits are far from 0 (GPT-2's sit near -60), so the gradient at the target, p - 1, is a small
# difference. f32 cross-entropy that forms x - (max + log-sum) loses ulp(max) there (the LM head's
# gradient was 2.4e-4 off in norm in 124M runs); the small random init above never reaches that
# regime (p ~ 1/97, logits ~ 0.1). Made by hand rather than by training: ln_f's gain spreads the
# logits, a 1 in component 0 of every lm_head row adds the same ln_f(x)[0] (tens) to all logits of
# a row (no softmax changes, only how far from 0 the f32 numbers are), and the targets are the
# model's own top tokens. Untied, so lm_head's gradient is the head's alone.
CONFIDENT_GAIN = 60.0


def export_confident():
    torch.manual_seed(SEED)
    model = GPT2(CFG, False)
    init_params(model, CFG['n_layer'])
    with torch.no_grad():
        model.ln_f.weight.mul_(CONFIDENT_GAIN)
        model.lm_head.weight[:, 0] += 1.0
    out = os.path.join(OUT, 'confident')
    os.makedirs(out, exist_ok=True)
    init = [(n, p.detach().clone()) for n, p in model.named_parameters()]
    write_safetensors(os.path.join(out, 'model.safetensors'), init)
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump(hf_config(False), f, indent=2)
        f.write('\n')

    model = model.double()
    inputs, targets = make_batch()
    with torch.no_grad():
        # Targets: the model's own top token at every counted position (so p[target] ~ 1).
        top = model(inputs).argmax(-1)
        targets = torch.where(targets == -100, targets, top)
    logits = model(inputs)
    loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-100)
    loss.backward()
    p_target = logits.softmax(-1).gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)[targets != -100]
    grads = [('grad.' + n, p.grad.detach().clone()) for n, p in model.named_parameters()]
    write_safetensors(os.path.join(out, 'golden.safetensors'), [('logits', logits.detach())] + grads)
    meta = {
        'config': CFG, 'tied': False, 'seed': SEED, 'torch': torch.__version__, 'B': B, 'T': T,
        'ln_f_gain': CONFIDENT_GAIN,
        'inputs': inputs.tolist(), 'targets': targets.tolist(), 'loss': loss.item(),
        'min_p_target': p_target.min().item(), 'max_p_target': p_target.max().item(),
        'logit_range': [logits.min().item(), logits.max().item()],
        'param_names': [n for n, _ in init],
    }
    with open(os.path.join(out, 'golden.json'), 'w') as f:
        json.dump(meta, f, indent=1)
        f.write('\n')
    print(f"confident: loss {loss.item():.3e}, p[target] {meta['min_p_target']:.6f}..{meta['max_p_target']:.6f}, "
          f"logits {meta['logit_range'][0]:.1f}..{meta['logit_range'][1]:.1f}")


# LoRA as Hugging Face PEFT computes it: base(x) + lora_B(lora_A(x)) * (alpha / r), lora_A [r, in]
# and lora_B [out, r] (nn.Linear weights), the base frozen. Every Linear of the tied model is
# adapted (c_attn, attn.c_proj, c_fc, mlp.c_proj and the head). B is random rather than PEFT's zero
# so that A's gradient is not zero and the branch changes the logits.
LORA = dict(r=4, alpha=8)
LORA_ADAMW = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)


class LoRA(nn.Module):
    def __init__(self, base_forward, n_in, n_out, g):
        super().__init__()
        self.base_forward = base_forward
        bound = 1 / math.sqrt(n_in)  # kaiming_uniform_(a=sqrt(5)) on [r, in]
        self.lora_A = nn.Parameter((torch.rand(LORA['r'], n_in, generator=g) * 2 - 1) * bound)
        self.lora_B = nn.Parameter(0.05 * torch.randn(n_out, LORA['r'], generator=g))

    def forward(self, x):
        return self.base_forward(x) + (x @ self.lora_A.t()) @ self.lora_B.t() * (LORA['alpha'] / LORA['r'])


def export_lora():
    torch.manual_seed(SEED)
    model = GPT2(CFG, True)
    init_params(model, CFG['n_layer'])
    for p in model.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(SEED + 2)
    d, v = CFG['n_embd'], CFG['vocab_size']
    adapters = []  # (PEFT module path, LoRA module)
    for i, block in enumerate(model.h):
        for path, mod in (('attn.c_attn', block.attn.c_attn), ('attn.c_proj', block.attn.c_proj),
                          ('mlp.c_fc', block.mlp.c_fc), ('mlp.c_proj', block.mlp.c_proj)):
            n_in, n_out = mod.weight.shape
            lora = LoRA(mod.forward, n_in, n_out, g)
            mod.forward = lora.forward
            adapters.append((f'transformer.h.{i}.{path}', lora))
    head = LoRA(lambda x: x @ model.wte.weight.t(), d, v, g)
    adapters.append(('lm_head', head))
    out = os.path.join(OUT, 'lora')
    os.makedirs(out, exist_ok=True)
    names = [(f'base_model.model.{m}.lora_{ab}.weight', getattr(l, f'lora_{ab}')) for m, l in adapters for ab in 'AB']
    write_safetensors(os.path.join(out, 'adapter_model.safetensors'), [(n, p.detach().clone()) for n, p in names])
    with open(os.path.join(out, 'adapter_config.json'), 'w') as f:
        json.dump({'peft_type': 'LORA', 'task_type': 'CAUSAL_LM', 'r': LORA['r'], 'lora_alpha': LORA['alpha'],
                   'target_modules': ['c_attn', 'c_proj', 'c_fc', 'lm_head'], 'fan_in_fan_out': True, 'bias': 'none',
                   'lora_dropout': 0.0, 'base_model_name_or_path': '../tied', 'inference_mode': True}, f, indent=2)
        f.write('\n')

    model = model.double()
    for _, l in adapters:
        l.double()
    params = [p for _, p in names]

    def forward(idx):
        t = idx.shape[1]
        x = model.wte(idx) + model.wpe(torch.arange(t))
        for block in model.h:
            x = block(x)
        return head(model.ln_f(x))

    inputs, targets = make_batch()
    logits = forward(inputs)
    loss = F.cross_entropy(logits.view(-1, v), targets.view(-1), ignore_index=-100)
    loss.backward()
    grads = [('grad.' + n, p.grad.detach().clone()) for n, p in names]
    opt = torch.optim.AdamW(params, **LORA_ADAMW)
    opt.zero_grad(set_to_none=True)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=True)
        lg = forward(inputs)
        l = F.cross_entropy(lg.view(-1, v), targets.view(-1), ignore_index=-100)
        losses.append(l.item())
        l.backward()
        opt.step()
    after = [('adamw3.' + n, p.detach().clone()) for n, p in names]
    write_safetensors(os.path.join(out, 'golden.safetensors'), [('logits', logits.detach())] + grads + after)
    meta = {
        'config': CFG, 'base': '../tied', 'lora': LORA, 'seed': SEED, 'torch': torch.__version__, 'B': B, 'T': T,
        'inputs': inputs.tolist(), 'targets': targets.tolist(), 'loss': loss.item(),
        'adamw': {**LORA_ADAMW, 'betas': list(LORA_ADAMW['betas']), 'steps': STEPS}, 'adamw_losses': losses,
        'param_names': [n for n, _ in names],
    }
    with open(os.path.join(out, 'golden.json'), 'w') as f:
        json.dump(meta, f, indent=1)
        f.write('\n')
    print(f"lora: loss {loss.item():.6f}, AdamW losses {losses}")



if __name__ == '__main__':
    export(True)
    export(False)
    export_confident()
    export_lora()
    from golden_dpo import export_dpo  # the DPO case, in a file of its own
    export_dpo()
