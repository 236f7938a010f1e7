// The built-in preference pairs (`wgpt dpo` with no --data): made from the built-in fact
// questions (train/data/facts.ts). A pair's chosen answer is the entry's right answer, its rejected
// one the answer of another entry (of the same task for every other pair): wrong, but made of
// tokens the SFT model's output vocabulary holds; or, with `--rejected model`, the SFT model's own
// wrong answer (withModelMistakes).
import { WgptError } from '../../engine/errors.ts';
import type { GPT } from '../../model/gpt.ts';
import { generateFactData } from '../data/facts.ts';
import type { SyntheticEntry } from '../data/synthetic.ts';
import { generateResponses } from '../eval/responses.ts';
import { exactMatch } from '../eval/score.ts';
import { Rng } from '../run/loader.ts';
import { encodePair } from './collate.ts';
import type { PreferenceEntry } from './data.ts';

/** Pairs over the same entries, in the same order, as `wgpt train`'s built-in data for this seed
 *  and count (or over `entries`), so the splits (and the held-out pairs) are the SFT run's. Every
 *  other pair rejects another answer of the same task (a wrong fact of the right form), the rest
 *  an answer of another task (the wrong kind of answer): the mix asks for both. */
export function syntheticPreferences(seed: number, count: number,
  entries: readonly SyntheticEntry[] = generateFactData({ seed, count })): PreferenceEntry[] {
  const answers = new Map<string, string[]>();
  for (const e of entries) {
    const list = answers.get(e.task) ?? [];
    if (!list.includes(e.output)) list.push(e.output);
    answers.set(e.task, list);
  }
  for (const list of answers.values()) list.sort();
  const tasks = [...answers.keys()].sort();
  const rng = new Rng(seed ^ 0xd90);
  return entries.map((e, i) => {
    const task = i % 2 === 0 ? e.task : tasks.filter((t) => t !== e.task)[rng.int(tasks.length - 1)];
    const wrong = answers.get(task)!.filter((a) => a !== e.output);
    if (wrong.length === 0) throw new WgptError(`synthetic task ${task} has a single answer; no wrong answer to reject`);
    return { ...e, chosen: e.output, rejected: wrong[rng.int(wrong.length)] };
  });
}

/** The built-in pairs with the SFT model's own mistakes as the rejected answers (`--rejected
 *  model`): its greedy answer to each entry where that answer is wrong, as preference data is
 *  usually made from a model's own outputs; where it is right (or empty, or holds a token outside
 *  the model's output vocabulary) the pair keeps its other entry's answer. */
export async function withModelMistakes(model: GPT, pairs: readonly PreferenceEntry[], style: string, maxNewTokens: number,
  genBatch?: number): Promise<{ pairs: PreferenceEntry[]; mistakes: number }> {
  const responses = await generateResponses(model, pairs, style, maxNewTokens,
    { batchSize: genBatch, label: "built-in pairs: the SFT model's own answers" });
  const vocab = model.config.outputVocab ? new Set(model.config.outputVocab) : null;
  let mistakes = 0;
  const out = pairs.map((e, i) => {
    const answer = String(responses[i].model_response ?? '').trim();
    if (answer === '' || exactMatch(answer, e.chosen)) return e;
    const pair = { ...e, rejected: answer };
    if (vocab && !encodePair(pair, style).rejected.every((id) => vocab.has(id))) return e;
    mistakes++;
    return pair;
  });
  return { pairs: out, mistakes };
}
