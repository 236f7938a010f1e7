// wgpt bench matmul|kernels|step|generate|all [--json FILE] [--md FILE] [--quick]: the benchmark
// suites in bench/*.ts, with the peers (jax-js and TensorFlow.js on WebGPU, PyTorch CPU/CUDA) beside wgpt where installed.
import { matmul, noGrad, Tensor, tidy, WgptError, type Device } from '../../engine/index.ts';
import { kernelChoices, machine, timeRuns, type BenchRow } from '../../bench/common.ts';
import { DEVICE_FLAGS, MATMUL_PRECISION, withDevice } from './common.ts';
import { own, parseFlags, SWITCH, TEXT, usageText } from './flags.ts';

const SUITES = ['matmul', 'kernels', 'step', 'generate', 'all', 'adapters'] as const;
type Suite = (typeof SUITES)[number];

/** The flags of wgpt bench: its usage and its parser are made from them. */
export const FLAGS = [
  own('json', TEXT, 'FILE', 'write {date, machine, peak, results: [rows]}'),
  own('md', TEXT, 'FILE', 'write a markdown report (tables, machine, date) and its charts beside it'),
  own('quick', SWITCH, null, 'fewer shapes and runs; no gpt2 training step', { default: false }),
  own('configs', TEXT, 'LIST', 'step: only these of small, gpt2, gpt2-medium (e.g. --configs gpt2)'),
  own('no-peers', SWITCH, null, 'step: wgpt alone (full finetuning and LoRA r16), no peer processes', { default: false }),
  MATMUL_PRECISION,
  ...DEVICE_FLAGS,
] as const;

const USAGE = usageText(`usage: wgpt bench matmul|kernels|step|generate|all|adapters [--json FILE] [--md FILE] [--quick]

  matmul     wgpt matmul at 1024³ and GPT-2 small shapes (3 forms), jax-js, tfjs-webgpu and torch beside it
  kernels    attention (causalSelfAttention vs attentionComposed), cross-entropy (fused vs composed), and the
             row reductions (softmax, layer norm, cross-entropy, argmax) with and without subgroups
  step       a training step (forward + backward + AdamW), small and gpt2 (8×64), wgpt and the peers
  generate   tokens/s with and without the KV cache, tiny and gpt2 (random weights)
  all        all of the above (RESULTS.md: npm run bench:results)
  adapters   the software adapters side by side, each with its Mesa version (GL llvmpipe, and lavapipe and GL
             on the Mesa copy of scripts/mesa-copy.sh where present): matmul GFLOP/s and a small step
`, FLAGS);

/** GFLOP/s of a 1024³ matmul (median of 3 after a warm-up): the peak when the matmul suite is not run. */
async function probePeak(device: Device): Promise<number> {
  const n = 1024;
  const a = Tensor.fromData(new Float32Array(n * n).fill(0.5), [n, n]);
  const b = Tensor.fromData(new Float32Array(n * n).fill(0.25), [n, n]);
  const t = await timeRuns(async () => {
    noGrad(() => tidy(() => void matmul(a, b)));
    await device.finish('bench probe');
  }, 3);
  a.dispose();
  b.dispose();
  return (2 * n ** 3) / (t.ms * 1e6);
}

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseFlags(argv, FLAGS, USAGE);
  const suite = positionals[0] as Suite | undefined;
  if (!suite || !SUITES.includes(suite) || positionals.length > 1) {
    throw new WgptError(`bench: give one of ${SUITES.join(', ')}${suite ? ` (got "${positionals.join(' ')}")` : ''}\n\n${USAGE}`);
  }
  const quick = values.quick === true;
  if (suite === 'adapters') {
    // One process per adapter: no device here.
    const { adaptersSuite, writeAdaptersJson } = await import('../../bench/adapters.ts');
    const columns = await adaptersSuite(quick);
    if (values.json) writeAdaptersJson(values.json, columns);
    return;
  }
  const started = performance.now();
  const date = new Date().toISOString();
  await withDevice(values, async (device) => {
    const info = machine(device);
    console.log(`wgpt bench ${suite}${quick ? ' --quick' : ''} on ${info.adapter} (${info.backend}); ` +
      `CPU ${info.cpu_class} × ${info.cores}; load ${info.load_avg.join(' ')}`);
    const rows: BenchRow[] = [];
    const want = (s: Suite): boolean => suite === s || suite === 'all';
    let peak = { gflops: NaN, source: '' };
    if (want('matmul')) {
      console.log('\n== matmul ==');
      const { matmulSuite } = await import('../../bench/compare.ts');
      const m = await matmulSuite(device, quick);
      rows.push(...m.rows);
      peak = { gflops: m.peak, source: 'best wgpt matmul GFLOP/s in this run' };
    }
    if ((want('kernels') || want('step')) && !Number.isFinite(peak.gflops)) {
      peak = { gflops: await probePeak(device), source: 'a 1024³ matmul probe in this run' };
      console.log(`matmul peak probe: ${peak.gflops.toFixed(2)} GFLOP/s`);
    }
    if (want('kernels')) {
      console.log('\n== kernels ==');
      const { kernelsSuite } = await import('../../bench/kernels.ts');
      rows.push(...(await kernelsSuite(device, quick, peak.gflops)));
    }
    if (want('step')) {
      console.log('\n== step ==');
      const { stepSuite } = await import('../../bench/step.ts');
      rows.push(...(await stepSuite(device, quick, peak.gflops, { configs: values.configs?.split(','), peers: !values['no-peers'] })));
    }
    if (want('generate')) {
      console.log('\n== generate ==');
      const { generateSuite } = await import('../../bench/generate.ts');
      rows.push(...(await generateSuite(device, quick)));
    }
    const seconds = (performance.now() - started) / 1000;
    info.kernels = kernelChoices(device);
    const command = `wgpt bench ${suite}${quick ? ' --quick' : ''}${values.configs ? ` --configs ${values.configs}` : ''}` +
      `${values['no-peers'] ? ' --no-peers' : ''}${values.md ? ` --md ${values.md}` : ''}${values.json ? ` --json ${values.json}` : ''}`;
    const report = { date, command, quick, machine: info, peak, seconds, results: rows };
    const { writeJson, writeMarkdown } = await import('../../bench/report.ts');
    if (values.json) {
      await writeJson(values.json, report);
      console.log(`wrote ${values.json}`);
    }
    if (values.md) {
      await writeMarkdown(values.md, report);
      console.log(`wrote ${values.md}`);
    }
    console.log(`done in ${(seconds / 60).toFixed(1)} min`);
  });
}
