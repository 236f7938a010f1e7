// The tables of the built-in run and of the prompt-loss-weight study, regenerated from their raw
// JSON alone (no model, no device): a built-in run's summary.json files (one per seed: a run
// directory, or the seed-S directories of a --seeds run), or a study's per-run plw-run.json files.
//   npx tsx scripts/evidence-tables.ts builtin DIR|FILE...   the table of wgpt train's built-in run
//   npx tsx scripts/evidence-tables.ts plw FILE|DIR...        a study's table and its paired findings
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { BuiltinSummary } from '../train/builtin/run.ts';
import { builtinMarkdown } from '../train/builtin/table.ts';
import { plwMarkdownTable, plwTable } from '../train/study/plw-report.ts';
import { PLW_RUN_FILE, type PlwRunResult } from '../train/study/plw-run.ts';

/** The files named `name` at or below each argument (a file itself, or found in its directories). */
function filesNamed(args: string[], name: string): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    if (!statSync(p).isDirectory()) return void out.push(p);
    for (const e of readdirSync(p).sort()) {
      const q = path.join(p, e);
      if (statSync(q).isDirectory()) walk(q);
      else if (e === name) out.push(q);
    }
  };
  for (const a of args) {
    if (!existsSync(a)) throw new Error(`${a}: no such file or directory`);
    walk(a);
  }
  return out;
}

const read = <T>(f: string): T => JSON.parse(readFileSync(f, 'utf8')) as T;
const [kind, ...args] = process.argv.slice(2);
if (kind === 'builtin' && args.length > 0) {
  // A --seeds run's own summary.json holds the spread, not a run: only the seeds' are read.
  const summaries = filesNamed(args, 'summary.json').map((f) => read<BuiltinSummary>(f)).filter((s) => 'heldout_exact_match' in s);
  console.log(builtinMarkdown(summaries));
} else if (kind === 'plw' && args.length > 0) {
  const table = plwTable(filesNamed(args, PLW_RUN_FILE).map((f) => read<PlwRunResult>(f)));
  console.log(plwMarkdownTable(table));
  for (const f of Object.values(table.findings)) console.log(`- ${f}`);
} else {
  console.error('usage: npx tsx scripts/evidence-tables.ts builtin DIR|FILE... | plw DIR|FILE...');
  process.exit(1);
}
