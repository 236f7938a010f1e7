// A run's metrics.jsonl, every trainer's: one JSON row per evaluation, appended as it is
// made (a crash loses no row before it), read back whole when a run resumes.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export class MetricsLog<Row> {
  readonly file: string;
  /** Every row so far (those of the run before a resume included). */
  readonly rows: Row[];

  /** DIR/metrics.jsonl: started empty, or with `resumed` read back. */
  constructor(dir: string, resumed: boolean) {
    this.file = path.join(dir, 'metrics.jsonl');
    if (!resumed) writeFileSync(this.file, '');
    this.rows = resumed && existsSync(this.file)
      ? readFileSync(this.file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row)
      : [];
  }

  append(row: Row): void {
    this.rows.push(row);
    appendFileSync(this.file, `${JSON.stringify(row)}\n`);
  }
}
