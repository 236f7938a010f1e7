// Optional LLM judge, as in chapter 7: asks an Ollama-compatible /api/chat endpoint to score each
// model response 0–100. Nothing else depends on it; the programmatic scores are in score.ts.
import type { Entry } from '../data/entries.ts';
import { formatPrompt } from '../data/prompts.ts';

export const DEFAULT_JUDGE_URL = 'http://localhost:11434/api/chat';
export const DEFAULT_JUDGE_MODEL = 'llama3';

export interface JudgeOptions {
  url?: string;
  model?: string;
}

/** The chapter's scoring prompt, word for word; the input is always shown in the alpaca format
 *  (the chapter's format_input) whatever style the model was finetuned with. */
export function judgePrompt(entry: Entry): string {
  return (
    `Given the input \`${formatPrompt(entry, 'alpaca')}\` ` +
    `and correct output \`${entry.output}\`, ` +
    `score the model response \`${entry.model_response ?? ''}\`` +
    ` on a scale from 0 to 100, where 100 is the best score. ` +
    `Respond with the integer number only.`
  );
}

/** Ollama's reply text: either one JSON object ({message:{content}}, stream:false) or NDJSON lines
 *  each carrying a piece of the content (the streaming default the chapter reads line by line). */
export function parseChatReply(body: string): string {
  const trimmed = body.trim();
  try {
    return contentOf(JSON.parse(trimmed));
  } catch {
    // Not a single JSON document: treat as NDJSON.
  }
  let text = '';
  for (const line of trimmed.split('\n')) {
    if (line.trim() === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      throw new Error(`judge: reply is neither JSON nor NDJSON: ${line.slice(0, 80)}`);
    }
    text += contentOf(obj);
  }
  return text;
}

function contentOf(obj: unknown): string {
  const msg = (obj as { message?: { content?: unknown }; error?: unknown }) ?? {};
  if (typeof msg.error === 'string') throw new Error(`judge: server error: ${msg.error}`);
  if (typeof msg.message?.content !== 'string') throw new Error('judge: reply has no message.content');
  return msg.message.content;
}

/** Sends one user message with the chapter's deterministic options; returns the reply text. */
export async function queryModel(prompt: string, options: JudgeOptions = {}): Promise<string> {
  const url = options.url ?? DEFAULT_JUDGE_URL;
  const body = {
    model: options.model ?? DEFAULT_JUDGE_MODEL,
    messages: [{ role: 'user', content: prompt }],
    options: { seed: 123, temperature: 0, num_ctx: 2048 },
    stream: false,
  };
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new Error(`judge: cannot reach ${url} (is ollama running?): ${cause}`);
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`judge: ${url} answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  return parseChatReply(text);
}

/** An integer 0..100 and nothing else (surrounding whitespace allowed), or null. */
export function parseScore(reply: string): number | null {
  const s = reply.trim();
  if (!/^\+?\d+$/.test(s)) return null;
  const n = Number(s);
  return n >= 0 && n <= 100 ? n : null;
}

export interface JudgeReport {
  /** One per entry; null where the reply was not a valid score. */
  scores: Array<number | null>;
  /** Valid scores only. */
  n: number;
  unparsable: number;
  /** Mean of the valid scores (NaN when there are none). */
  mean: number;
}

/** Scores entries that carry model_response, one request at a time (a local model serves one
 *  request at a time anyway, and order stays deterministic). */
export async function judgeResponses(entries: readonly Entry[], options: JudgeOptions = {}): Promise<JudgeReport> {
  const scores: Array<number | null> = [];
  for (const e of entries) scores.push(parseScore(await queryModel(judgePrompt(e), options)));
  const valid = scores.filter((s): s is number => s !== null);
  return {
    scores,
    n: valid.length,
    unparsable: scores.length - valid.length,
    mean: valid.length === 0 ? NaN : valid.reduce((a, b) => a + b, 0) / valid.length,
  };
}
