/// <reference lib="dom" />
// The page `wgpt web` serves: the built-in run in this tab (live loss plot, the held-out table and
// answers, a prompt box to the finetuned model), and the finetuning of a dropped model on a dropped
// instruction file, downloaded back as the files `wgpt generate` loads. When the built-in run ends
// the title says `wgpt: done` (or `wgpt: error`) and #summary holds its summary as JSON, the keys
// of the CLI's summary.json; scripts and the browser tests wait on these.
import { configurePlatform } from '../engine/platform/browser.ts';
import { openDevice, type Device } from '../engine/index.ts';
import { gptFromFiles, gptToFiles } from '../model/bytes.ts';
import { generate } from '../model/generate.ts';
import type { GPT } from '../model/gpt.ts';
import { decode, encode } from '../model/tokenizer.ts';
import { parseEntries, type Entry } from '../train/data/entries.ts';
import { formatPrompt } from '../train/data/prompts.ts';
import { extractResponse } from '../train/eval/score.ts';
import { TRAIN_BASE } from '../train/sft/presets.ts';
import { finetuneInTab, tabRun, type TabEvents, type TabPreset } from './tab-run.ts';
import { $, LossPlot, summaryTable } from './view.ts';

// The page's settings (the CLI's WGPT_* environment). Measuring kernels here would take the tab
// minutes on a software adapter; the built-in defaults serve.
configurePlatform({ WGPT_TUNE: 'off' });

const say = (text: string): void => void ($('status').textContent = text);
const showError = (e: unknown): void => void ($('error').textContent = (e as Error).message ?? String(e));

let device: Promise<Device> | null = null;
/** The GPU, opened once; an adapter the engine cannot use is one sentence in the page. */
function gpu(): Promise<Device> {
  device ??= openDevice().then((d) => {
    $('adapter').textContent = `WebGPU adapter: ${d.adapterDescription} (${d.backend}, ${d.featureLevel})`;
    return d;
  });
  return device;
}

function events(plot: LossPlot): TabEvents {
  return {
    phase: (phase, total) => {
      plot.start(phase, total);
      say(`${phase}: step 0 of ${total}`);
      $<HTMLProgressElement>('progress').max = total;
    },
    step: (phase, step, loss) => {
      plot.add(loss);
      say(`${phase}: step ${step + 1}, loss ${loss.toFixed(3)}`);
      $<HTMLProgressElement>('progress').value = step + 1;
    },
    row: (phase, row) => console.log(`${phase} step ${row.step}: train loss ${row.train_loss.toFixed(3)}, val loss ${row.val_loss.toFixed(3)}`),
    progress: (label, done, total) => {
      say(`${label}: ${done} of ${total}`);
      $<HTMLProgressElement>('progress').max = total;
      $<HTMLProgressElement>('progress').value = done;
    },
    log: (line) => console.log(line),
  };
}

let finetuned: { model: GPT; style: string } | null = null;

async function runBuiltin(preset: TabPreset): Promise<void> {
  $<HTMLButtonElement>('run').disabled = true;
  document.title = 'wgpt: running';
  $('error').textContent = '';
  try {
    await gpu();
    const r = await tabRun(preset, events(new LossPlot()));
    finetuned?.model.dispose();
    finetuned = { model: r.finetuned, style: r.style };
    $('table').innerHTML = summaryTable(r.summary);
    $('summary').textContent = JSON.stringify(r.summary, null, 2);
    say(`done in ${r.summary.seconds.total.toFixed(0)} s`);
    $<HTMLInputElement>('prompt').disabled = false;
    $('ask').querySelector('button')!.disabled = false;
    document.title = 'wgpt: done';
  } catch (e) {
    showError(e);
    document.title = 'wgpt: error';
  } finally {
    $<HTMLButtonElement>('run').disabled = false;
  }
}

async function ask(question: string): Promise<void> {
  if (!finetuned) return;
  const prompt = formatPrompt({ instruction: question, input: '', output: '' }, finetuned.style);
  const ids = encode(prompt, false).slice(-finetuned.model.config.contextLength + 1);
  const out = await generate(finetuned.model, ids, { maxNewTokens: 24 });
  $('answer').textContent = extractResponse(decode(out), prompt, finetuned.style) || '(no answer)';
}

// ---- a dropped model and instruction file ----
const dropped: { model?: ArrayBuffer; config?: string; entries?: Entry[]; names: Record<string, string> } = { names: {} };

/** Checks each file as it comes; a bad one is refused in one sentence and what was accepted stays. */
async function accept(files: FileList | File[]): Promise<void> {
  $('error').textContent = '';
  // config.json first: a model dropped together with its config is read with it.
  for (const f of Array.from(files).sort((a, b) => Number(b.name === 'config.json') - Number(a.name === 'config.json'))) {
    try {
      if (f.name.endsWith('.safetensors')) {
        const bytes = await f.arrayBuffer();
        gptFromFiles(bytes, dropped.config ?? null).dispose();
        dropped.model = bytes;
        dropped.names.model = f.name;
      } else if (f.name === 'config.json') {
        const text = await f.text();
        if (dropped.model) gptFromFiles(dropped.model, text).dispose();
        else JSON.parse(text);
        dropped.config = text;
        dropped.names.config = f.name;
      } else if (f.name.endsWith('.json')) {
        dropped.entries = parseEntries(await f.text(), f.name);
        dropped.names.data = `${f.name} (${dropped.entries.length} entries)`;
      } else throw new Error(`${f.name}: not a file the page takes (model.safetensors, config.json or an instruction .json)`);
    } catch (e) {
      showError(e);
    }
  }
  $('dropped').textContent = Object.values(dropped.names).join(', ') || 'nothing dropped yet';
  $<HTMLButtonElement>('finetune').disabled = !(dropped.model && dropped.entries);
}

async function finetuneDropped(): Promise<void> {
  $<HTMLButtonElement>('finetune').disabled = true;
  $('error').textContent = '';
  try {
    await gpu();
    const model = gptFromFiles(dropped.model!, dropped.config ?? null);
    const opts = { ...TRAIN_BASE, data: dropped.names.data, maxNewTokens: 32, testLimit: 8 };
    const r = await finetuneInTab(opts, model, events(new LossPlot()), 'finetune', dropped.entries!);
    say(`finetuned: ${r.steps} steps${r.after ? `, held-out exact match ${(100 * r.after.accuracy).toFixed(1)}%` : ''}; download below`);
    const files = await gptToFiles(r.model);
    finetuned?.model.dispose();
    finetuned = { model: r.model, style: opts.style };
    for (const [id, blob] of [['download-model', new Blob([files.safetensors as BlobPart])], ['download-config', new Blob([files.config])]] as const) {
      const a = $<HTMLAnchorElement>(id);
      a.href = URL.createObjectURL(blob);
      a.hidden = false;
    }
  } catch (e) {
    showError(e);
  } finally {
    $<HTMLButtonElement>('finetune').disabled = false;
  }
}

$('run').addEventListener('click', () => void runBuiltin($<HTMLSelectElement>('preset').value as TabPreset));
$('ask').addEventListener('submit', (ev) => {
  ev.preventDefault();
  ask($<HTMLInputElement>('prompt').value).catch(showError);
});
$<HTMLInputElement>('files').addEventListener('change', (ev) => void accept((ev.target as HTMLInputElement).files ?? []));
const zone = $('dropzone');
zone.addEventListener('dragover', (ev) => {
  ev.preventDefault();
  zone.classList.add('over');
});
zone.addEventListener('dragleave', () => zone.classList.remove('over'));
zone.addEventListener('drop', (ev) => {
  ev.preventDefault();
  zone.classList.remove('over');
  void accept(ev.dataTransfer?.files ?? []);
});
$('finetune').addEventListener('click', () => void finetuneDropped());

// `wgpt web --run builtin`: the CLI's recipe starts at once.
const auto = document.body.dataset.run;
gpu().then(() => {
  if (auto === 'builtin') void runBuiltin('builtin');
}, (e) => {
  showError(e);
  if (auto) document.title = 'wgpt: error';
});
