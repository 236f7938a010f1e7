// wgpt info [--json]: the adapter chosen, its features, the limits in force, a matmul probe, the
// matmul variants chosen for this machine and the WGPT_* settings in force.
import { matmul, noGrad, Tensor, tidy, type Device } from '../../engine/index.ts';
import { SETTINGS, settingsInForce } from '../../engine/settings.ts';
import { tuningOf } from '../../engine/tune/choices.ts';
import { DEVICE_FLAGS, withDevice } from './common.ts';
import { own, parseFlags, SWITCH, usageText } from './flags.ts';

/** The flags of wgpt info: its usage and its parser are made from them. */
export const FLAGS = [own('json', SWITCH, null, 'print one JSON object', { default: false }), ...DEVICE_FLAGS] as const;

const SETTINGS_USAGE = Object.entries(SETTINGS).filter(([, s]) => !('internal' in s)).map(([name, s]) =>
  `  ${name.padEnd(28)} ${s.doc}`).join('\n');
const USAGE = `${usageText('usage: wgpt info [--json]\n', FLAGS)}\n\nenvironment (wgpt info prints those set):\n${SETTINGS_USAGE}`;

/** GFLOP/s of an n³ matmul, median of a few runs after one warm-up. */
async function probe(device: Device, n: number): Promise<{ n: number; ms: number; gflops: number }> {
  const a = Tensor.fromData(new Float32Array(n * n).fill(0.5), [n, n]);
  const b = Tensor.fromData(new Float32Array(n * n).fill(0.25), [n, n]);
  const once = async (): Promise<number> => {
    const t0 = performance.now();
    noGrad(() => tidy(() => void matmul(a, b)));
    await device.finish('info probe');
    return performance.now() - t0;
  };
  await once();
  const times: number[] = [];
  for (let i = 0; i < 3; i++) times.push(await once());
  times.sort((x, y) => x - y);
  a.dispose();
  b.dispose();
  const ms = times[1];
  return { n, ms, gflops: (2 * n ** 3) / (ms * 1e6) };
}

/** The tuning state in force: on or off, its file, and each class's choice. */
function tuningSummary(device: Device) {
  const s = tuningOf(device);
  return { enabled: s.enabled, file: s.file, classes: Object.fromEntries(s.results) };
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, FLAGS, USAGE);
  const settings = settingsInForce();
  await withDevice(values, async (device) => {
    const info = {
      backend: device.backend,
      featureLevel: device.featureLevel,
      adapter: device.adapterDescription,
      features: device.features,
      limits: { ...device.limits },
      probe: { matmul: await probe(device, 512) },
      tuning: tuningSummary(device),
      settings: Object.fromEntries(settings.map((s) => [s.name, s.value])),
    };
    if (values.json) {
      console.log(JSON.stringify(info, null, 2));
      return;
    }
    console.log(`backend        ${info.backend} (${info.featureLevel})`);
    console.log(`adapter        ${info.adapter}`);
    console.log(`features       ${info.features.join(', ') || '(none)'}`);
    console.log('limits in force');
    for (const [k, v] of Object.entries(info.limits)) console.log(`  ${k.padEnd(36)} ${v}`);
    const p = info.probe.matmul;
    console.log(`matmul ${p.n}³    ${p.ms.toFixed(1)} ms, ${p.gflops.toFixed(1)} GFLOP/s`);
    const tn = info.tuning;
    if (!tn.enabled) {
      console.log('kernel variants: the built-in defaults (WGPT_TUNE=off)');
    } else {
      console.log(`kernel variants in force (measured on this machine, kept in ${tn.file}; \`wgpt tune\` measures again):`);
      for (const [cls, r] of Object.entries(tn.classes)) {
        const g = r.speed[r.choice];
        console.log(`  ${cls.padEnd(14)} ${r.choice}` +
          `${g === undefined ? ' (not measured: built-in default)' : `, ${g.toFixed(1)} ${r.unit} at ${r.shape.join('x')}`}`);
      }
      console.log('  other classes: the built-in default until first met, then measured');
    }
    console.log(settings.length === 0 ? 'settings       none of the WGPT_* variables is set (wgpt info --help lists them)'
      : 'settings in force');
    for (const s of settings) console.log(`  ${`${s.name}=${s.value}`.padEnd(36)} ${s.doc}`);
  });
}
