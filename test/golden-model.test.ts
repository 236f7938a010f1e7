// The whole model against PyTorch (llm.c's golden-state test): logits, loss, every parameter's
// gradient and three AdamW steps, for a tied and an untied head. Data from scripts/golden.py.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { backward, keep, Tensor, tidy } from '../engine/index.ts';
import { loadGPT } from '../model/build.ts';
import { readSafetensors } from '../model/safetensors.ts';
import { AdamW } from '../train/optim.ts';
import { assertClose } from './helpers/opcheck.ts';
import { withDevice } from './helpers/device.ts';

await withDevice(t);

for (const kind of ['tied', 'untied']) {
  t.test(`${kind} head`, async (t) => {
    const dir = new URL(`./golden/${kind}/`, import.meta.url).pathname;
    const gold = JSON.parse(readFileSync(`${dir}/golden.json`, 'utf8'));
    const ref = await readSafetensors(`${dir}/golden.safetensors`);
    const model = await loadGPT(dir);
    t.equal(model.config.tiedHead, kind === 'tied');
    const [B, T] = [gold.B, gold.T];
    const ids = Tensor.fromData(gold.inputs.flat(), [B, T], 'i32');
    const targets = Tensor.fromData(gold.targets.flat(), [B, T], 'i32');

    const { logits, loss } = tidy(() => {
      const logits = model.forward(ids);
      const loss = model.loss(ids, targets);
      backward(loss);
      return { logits, loss };
    });
    assertClose(t, await logits.toArray(), ref.get('logits')!.data, 1e-4, 0, 'logits');
    t.ok(Math.abs((await loss.item()) - gold.loss) < 1e-4, `loss ${await loss.item()} vs ${gold.loss}`);
    for (const [name, p] of model.params) {
      const want = ref.get(`grad.${name}`)!.data;
      const scale = want.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      assertClose(t, await p.grad!.toArray(), want, 1e-3 * scale + 1e-6, 0, `grad ${name}`);
    }

    // Three AdamW steps on the same batch, all parameters decayed (as the book does).
    const opt = new AdamW([...model.params.values()], {
      lr: gold.adamw.lr, betas: gold.adamw.betas, eps: gold.adamw.eps, weightDecay: gold.adamw.weight_decay,
    });
    const losses: number[] = [];
    for (let step = 0; step < 3; step++) {
      if (step > 0) {
        const l = tidy(() => {
          const l = model.loss(ids, targets);
          backward(l);
          return keep(l);
        });
        losses.push(await l.item());
        l.dispose();
      } else losses.push(await loss.item());
      opt.update();
    }
    const after = tidy(() => keep(model.loss(ids, targets)));
    gold.adamw_losses.forEach((want: number, i: number) => t.ok(Math.abs(losses[i] - want) < 1e-4, `AdamW loss ${i}: ${losses[i]} vs ${want}`));
    t.ok(Math.abs((await after.item()) - gold.loss_after_adamw) < 1e-4, `loss after 3 AdamW steps ${await after.item()} vs ${gold.loss_after_adamw}`);
    for (const [name, p] of model.params) assertClose(t, await p.toArray(), ref.get(`adamw3.${name}`)!.data, 1e-4, 0, `after AdamW ${name}`);
    opt.dispose();
    model.dispose();
  });
}
