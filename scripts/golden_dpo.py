#!/usr/bin/python3
"""The DPO case of the golden reference data (scripts/golden.py runs it last): the DPO loss of two
preference pairs on the tied golden model, its gradients and the sequence log-probabilities, in
test/golden/dpo/. Run through scripts/golden.py, which writes the policy it starts from.
"""
import json
import os

import torch
import torch.nn.functional as F

from golden import CFG, GPT2, OUT, SEED, hf_config, init_params, write_safetensors


# The DPO case (the chapter 7 bonus notebook's compute_dpo_loss_batch): the policy is the tied model
# of scripts/golden.py, the reference a copy with every parameter moved by N(0, 0.02) (so rewards are not 0). Two
# pairs of different lengths (prompt 4 and 3 tokens), each answer padded with 50256's stand-in (the
# last id, 96) to the batch's max length + 1; a sequence's log-probability is the mean over the
# targets that predict tokens at index >= its prompt length and < its own length (wgpt's --mask
# prompt: exactly the prompt masked, where the notebook masks prompt_len + 2 tokens).
DPO_BETA = 0.1
DPO_PAD = CFG['vocab_size'] - 1
DPO_PAIRS = [  # (prompt length, chosen tokens, rejected tokens); the first tokens are the shared prompt
    (4, [5, 17, 33, 8, 61, 2, 40], [5, 17, 33, 8, 12, 70, 71, 3, 9, 44]),
    (3, [88, 4, 27, 50, 50, 13], [88, 4, 27, 6]),
]


def dpo_logprobs(model, pairs):
    """Per sequence (chosen rows, then rejected rows) the mean log-prob of its selected tokens."""
    seqs = [c for _, c, _ in pairs] + [r for _, _, r in pairs]
    prompts = [p for p, _, _ in pairs] * 2
    length = max(len(s) + 1 for s in seqs)
    padded = torch.tensor([s + [DPO_PAD] * (length - len(s)) for s in seqs])
    mask = torch.zeros(len(seqs), length, dtype=torch.bool)
    for i, (s, p) in enumerate(zip(seqs, prompts)):
        mask[i, p:len(s)] = True
    logits = model(padded)[:, :-1]
    labels, sel = padded[:, 1:], mask[:, 1:]
    logp = torch.gather(F.log_softmax(logits, dim=-1), -1, labels.unsqueeze(-1)).squeeze(-1)
    return (logp * sel).sum(-1) / sel.sum(-1)


def export_dpo():
    torch.manual_seed(SEED)
    policy = GPT2(CFG, True)
    init_params(policy, CFG['n_layer'])
    reference = GPT2(CFG, True)
    reference.load_state_dict(policy.state_dict())
    g = torch.Generator().manual_seed(SEED + 7)
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=g))
    out = os.path.join(OUT, 'dpo')
    os.makedirs(os.path.join(out, 'reference'), exist_ok=True)
    write_safetensors(os.path.join(out, 'reference', 'model.safetensors'), [(n, p.detach().clone()) for n, p in reference.named_parameters()])
    with open(os.path.join(out, 'reference', 'config.json'), 'w') as f:
        json.dump(hf_config(True), f, indent=2)
        f.write('\n')

    policy, reference = policy.double(), reference.double()
    b = len(DPO_PAIRS)
    with torch.no_grad():
        ref = dpo_logprobs(reference, DPO_PAIRS)
    pi = dpo_logprobs(policy, DPO_PAIRS)
    logits = (pi[:b] - pi[b:]) - (ref[:b] - ref[b:])
    loss = -F.logsigmoid(DPO_BETA * logits).mean()
    loss.backward()
    grads = [('grad.' + n, p.grad.detach().clone()) for n, p in policy.named_parameters()]
    write_safetensors(os.path.join(out, 'golden.safetensors'), grads)
    meta = {
        'config': CFG, 'policy': '../tied', 'seed': SEED, 'torch': torch.__version__, 'beta': DPO_BETA, 'pad': DPO_PAD,
        'pairs': [{'prompt_length': p, 'chosen': c, 'rejected': r} for p, c, r in DPO_PAIRS],
        'pi_chosen': pi[:b].tolist(), 'pi_rejected': pi[b:].tolist(),
        'ref_chosen': ref[:b].tolist(), 'ref_rejected': ref[b:].tolist(),
        'chosen_rewards': (pi[:b] - ref[:b]).tolist(), 'rejected_rewards': (pi[b:] - ref[b:]).tolist(),
        'loss': loss.item(), 'param_names': [n for n, _ in policy.named_parameters()],
    }
    with open(os.path.join(out, 'golden.json'), 'w') as f:
        json.dump(meta, f, indent=1)
        f.write('\n')
    print(f"dpo: loss {loss.item():.9f}, rewards {meta['chosen_rewards']} / {meta['rejected_rewards']}")
