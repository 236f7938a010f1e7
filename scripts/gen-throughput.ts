// Greedy generation throughput on the test split of an instruction file: prompts, tokens, seconds,
// tokens/s. Usage: npx tsx scripts/gen-throughput.ts MODEL DATA.json [prompts] [max-new] [batch]
// batch 0 = one prompt at a time through generate() (the path responses took before batching;
// before commit 'model: batched greedy generation' generate() read back every token's logits).
import { closeDevice, openDevice } from '../engine/index.ts';
import { loadGPT } from '../model/build.ts';
import { generate } from '../model/generate.ts';
import { generateBatch } from '../model/generate-batch.ts';
import { encode } from '../model/tokenizer.ts';
import { loadInstructionData } from '../train/data/entries-file.ts';
import { splitData } from '../train/data/entries.ts';
import { formatPrompt } from '../train/data/prompts.ts';

const [modelPath, dataPath, nArg = '16', maxArg = '256', batchArg = '0'] = process.argv.slice(2);
const device = await openDevice();
const model = await loadGPT(modelPath);
const entries = splitData(await loadInstructionData(dataPath)).test.slice(0, Number(nArg));
const prompts = entries.map((e) => encode(formatPrompt(e, 'alpaca'), false).slice(-model.config.contextLength + 1));
const maxNewTokens = Number(maxArg);
const batch = Number(batchArg);
await generateBatch(model, prompts.slice(0, 2), { maxNewTokens: 2 }); // warm-up: compiles
const t0 = performance.now();
let outs: number[][] = [];
if (batch === 0) for (const p of prompts) outs.push(await generate(model, p, { maxNewTokens }));
else outs = await generateBatch(model, prompts, { maxNewTokens, batchSize: batch });
const s = (performance.now() - t0) / 1000;
const tokens = outs.reduce((n, o) => n + o.length, 0);
const report = { prompts: prompts.length, batch, maxNewTokens, tokens, seconds: +s.toFixed(1), tokensPerSecond: +(tokens / s).toFixed(2) };
console.log(JSON.stringify(report));
model.dispose();
closeDevice(device);
process.exit(0);
