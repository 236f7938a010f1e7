// One flag table per command, from which its usage text, its node:util parseArgs options and its
// typed options object are all made (nanoGPT's configurator.py in spirit: one place says what can
// be set). An entry is a flag (its name as users' scripts spell it, the value's kind, a help line)
// and, where the flag sets a run's option, the option key: so the usage cannot forget a flag, the
// parser cannot refuse a documented one, and a resumed run's saved options are checked against the
// same kinds. Entries with a key but no flag are options only presets set (checked on resume too).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { WgptError } from '../../engine/errors.ts';

/** What a flag's value is: how the text given becomes it, and whether a saved value is one. */
export interface Kind<V> {
  /** node:util parseArgs's type: a value, or a bare switch. */
  readonly type: 'string' | 'boolean';
  /** The flag may be given more than once (its values are a list). */
  readonly multiple?: boolean;
  /** The value of the flag as given; a one-line error naming --flag where it is not one. */
  parse(given: string | boolean | string[], flag: string): V;
  /** A value read back from a checkpoint is one of these. */
  is(value: unknown): boolean;
  /** What `is` wants, in words for the error ("an integer"). */
  readonly what: string;
}

const textOf = (given: string | boolean | string[]): string => String(given);

export const TEXT: Kind<string> = { type: 'string', parse: textOf, is: (v) => typeof v === 'string', what: 'a string' };

export const NUMBER: Kind<number> = {
  type: 'string', what: 'a number', is: (v) => typeof v === 'number' && Number.isFinite(v),
  parse(given, flag) {
    const n = Number(given);
    if (!Number.isFinite(n)) throw new WgptError(`--${flag} must be a number, got "${textOf(given)}"`);
    return n;
  },
};

export const INT: Kind<number> = {
  type: 'string', what: 'an integer', is: (v) => Number.isInteger(v),
  parse(given, flag) {
    const n = Number(given);
    if (!Number.isInteger(n)) throw new WgptError(`--${flag} must be an integer, got "${textOf(given)}"`);
    return n;
  },
};

/** An integer of at least `min`; `words` names the smallest value where it has a meaning of its
 *  own ("0 (no test responses)"). */
export function intAtLeast(min: number, words = String(min)): Kind<number> {
  return {
    ...INT, what: `an integer of at least ${min}`, is: (v) => Number.isInteger(v) && (v as number) >= min,
    parse(given, flag) {
      const n = INT.parse(given, flag);
      if (n >= min) return n;
      throw new WgptError(min === 1 ? `--${flag} must be at least 1, got ${n}` : `--${flag} must be ${words} or more, got ${n}`);
    },
  };
}

export const POSITIVE_INT = intAtLeast(1);

/** train's and dpo's --test-limit: 0 means no test responses. */
export const TEST_LIMIT = intAtLeast(0, '0 (no test responses)');

/** A bare flag: given is true (never false: leave it out). */
export const SWITCH: Kind<boolean> = {
  type: 'boolean', parse: (given) => given === true, is: (v) => typeof v === 'boolean', what: 'true or false',
};

/** A flag given once per value (--prompt A --prompt B). */
export const TEXTS: Kind<string[]> = {
  type: 'string', multiple: true, what: 'a list of strings',
  parse: (given) => (Array.isArray(given) ? given : [textOf(given)]),
  is: (v) => Array.isArray(v) && v.every((x) => typeof x === 'string'),
};

/** An entry of a command's table. */
export interface Entry<O = unknown> {
  /** The flag, without dashes, as users' scripts spell it; none: an option only presets set. */
  readonly flag?: string;
  readonly kind: Kind<unknown>;
  /** The option the flag sets; none: the command reads the flag itself (--out, --resume, --preset). */
  readonly key?: keyof O & string;
  /** The value in the usage line (N, DIR, alpaca|phi3); none for a switch. */
  readonly arg?: string;
  /** The usage text, lines joined with \n. */
  readonly help?: string;
  readonly short?: string;
  /** parseArgs's default (the value is then always there, given or not). */
  readonly default?: string | boolean;
  /** On --resume: 'keep' (the default) the saved value stands and a different one is refused;
   *  'change': how far or how fast a run goes, which a resumed run may set anew. */
  readonly onResume?: 'keep' | 'change';
  /** A checkpoint may lack the option (it came after such checkpoints, or is saved only when given). */
  readonly optional?: boolean;
  /** A checkpoint may hold null for it (not given: all, none, no limit). */
  readonly nullable?: boolean;
}

type More = Pick<Entry, 'short' | 'default' | 'onResume' | 'optional' | 'nullable'>;

/** The builders of a table for options O: each ties a flag to an option of the right type. */
export function flagsFor<O>() {
  return {
    /** --flag sets option `key` of O, which must hold the kind's values. */
    set<const N extends string, K extends keyof O & string, V extends NonNullable<O[K]>>(flag: N, key: K, kind: Kind<V>, arg: string | null,
      help: string, more: More = {}): Entry<O> & { flag: N; kind: Kind<V> } {
      return { flag, key, kind, help, ...(arg === null ? {} : { arg }), ...more };
    },
    /** An option no flag sets (presets do), checked when a run resumes. */
    saved<K extends keyof O & string>(key: K, kind: Kind<NonNullable<O[K]>>, more: More = {}): Entry<O> {
      return { key, kind, ...more };
    },
  };
}

/** A flag the command reads itself (no option key). */
export function own<const N extends string, V>(flag: N, kind: Kind<V>, arg: string | null, help: string,
  more: Pick<Entry, 'short' | 'default'> = {}): Entry & { flag: N; kind: Kind<V> } {
  return { flag, kind, help, ...(arg === null ? {} : { arg }), ...more };
}

/** The parsed flags of a table, by flag name: absent unless given (or defaulted). */
export type FlagValues<T extends readonly Entry<never>[]> = {
  [E in T[number] as E extends { flag: infer N extends string } ? N : never]?: E extends { kind: Kind<infer V> } ? V : never;
};

/** The table as node:util parseArgs options (what `wgpt sweep plan` checks a grid against). */
export function parseArgsOptions(table: readonly Entry<never>[]): NonNullable<ParseArgsConfig['options']> {
  const out: NonNullable<ParseArgsConfig['options']> = {};
  for (const e of table) {
    if (e.flag === undefined) continue;
    out[e.flag] = {
      type: e.kind.type, ...(e.kind.multiple ? { multiple: true } : {}), ...(e.short ? { short: e.short } : {}),
      ...(e.default !== undefined ? { default: e.default } : {}),
    } as NonNullable<ParseArgsConfig['options']>[string];
  }
  return out;
}

/** A default as people write it in a flag's help: 5e-5, not 0.00005. */
export const shown = (x: number): string => (x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential() : String(x));

const HELP_COLUMN = 26;

/** One flag's usage lines: "  --name ARG" and its help, continuation lines under the first. */
function flagLines(e: Entry<never>): string[] {
  const name = `  ${e.short ? `-${e.short}, ` : ''}--${e.flag}${e.arg ? ` ${e.arg}` : ''}`;
  const [first, ...rest] = (e.help ?? '').split('\n');
  const head = name.length <= HELP_COLUMN - 2 ? name.padEnd(HELP_COLUMN) + first : `${name}  ${first}`;
  return [head.trimEnd(), ...rest.map((l) => ' '.repeat(HELP_COLUMN) + l)];
}

/** A usage text: prose as given, tables as one block of flag lines each. */
export function usageText(...parts: (string | readonly Entry<never>[])[]): string {
  return parts.map((p) => (typeof p === 'string' ? p : p.filter((e) => e.flag !== undefined).flatMap(flagLines).join('\n'))).join('\n');
}

/** parseArgs's values: the text given, true for a switch, a list for a repeatable flag. */
export type RawValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** Turns parseArgs's values into the table's kinds (each a one-line error naming its flag). */
export function flagValues<T extends readonly Entry<never>[]>(table: T, raw: RawValues): FlagValues<T> {
  const values: Record<string, unknown> = {};
  for (const e of table) {
    const given = e.flag === undefined ? undefined : raw[e.flag];
    if (given !== undefined) values[e.flag!] = e.kind.parse(given as string | boolean | string[], e.flag!);
  }
  return values as FlagValues<T>;
}

/** A fresh run's options: `base` (the command's defaults and a preset over them) with every flag
 *  given that sets an option. */
export function applyFlags<O extends object>(table: readonly Entry<O>[], values: Record<string, unknown>, base: O): O {
  const opts = { ...base } as Record<string, unknown>;
  for (const e of table) if (e.key !== undefined && e.flag !== undefined && values[e.flag] !== undefined) opts[e.key] = values[e.flag];
  return opts as O;
}

const show = (v: unknown): string => (Array.isArray(v) ? v.join(' ') : String(v));
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** A resumed run's options: the checkpoint's `saved` options checked entry by entry (a missing or
 *  mistyped one is a one-line error naming it and what to do), then the flags that may change on
 *  resume set; a flag that would change a kept option is refused, the same value accepted (a
 *  sweep's task gives every flag again with --resume). */
export function resumeOptions<O extends object>(table: readonly Entry<O>[], saved: Record<string, unknown>, values: Record<string, unknown>,
  o: { command: string; dir: string }): O {
  const where = `${o.dir}: its checkpoint's options`;
  const redo = `resume it with the command that made it, or start the run again without --resume`;
  if (saved === null || typeof saved !== 'object' || Array.isArray(saved)) throw new WgptError(`${where} are not an object: ${redo}`);
  for (const e of table) {
    if (e.key === undefined) continue;
    const v = saved[e.key];
    const named = `"${e.key}"${e.flag ? ` (--${e.flag})` : ''}`;
    if (v === undefined) {
      if (!e.optional) throw new WgptError(`${where} lack ${named}, which every wgpt ${o.command} run saves: ${redo}`);
    } else if (!(v === null && e.nullable) && !e.kind.is(v)) {
      throw new WgptError(`${where} hold ${named} = ${JSON.stringify(v)}, not ${e.kind.what}${e.nullable ? ' or null' : ''}: ${redo}`);
    }
  }
  const opts = { ...saved } as Record<string, unknown>;
  for (const e of table) {
    if (e.key === undefined || e.flag === undefined || values[e.flag] === undefined) continue;
    const given = values[e.flag];
    if (e.onResume === 'change') opts[e.key] = given;
    else if (!same(given, saved[e.key])) {
      const kept = saved[e.key];
      const was = kept === undefined || kept === null || kept === false ? `no --${e.flag}` : `--${e.flag} ${show(kept)}`;
      const asked = `--${e.flag}${e.kind.type === 'boolean' ? '' : ` ${show(given)}`}`;
      throw new WgptError(`${asked}: ${o.dir} was trained with ${was} and resumes with it; leave the flag out`);
    }
  }
  return opts as O;
}

/** The flags of a command line: one-line errors for what parseArgs refuses, --help prints `usage`
 *  and exits. `values` holds each flag's value of its kind, `raw` the text as given. */
export function parseFlags<T extends readonly Entry<never>[]>(argv: string[], table: T, usage: string): {
  values: FlagValues<T>; raw: RawValues; positionals: string[];
} {
  const parsed = (() => {
    try {
      return parseArgs({ args: argv, options: parseArgsOptions(table), allowPositionals: true, strict: true });
    } catch (e) {
      // node's messages span lines ("... is ambiguous.\nDid you forget ..."): one line, as every error.
      throw new WgptError(`${(e as Error).message.split('\n').map((l) => l.trim()).filter(Boolean).join(' ')} (see --help)`);
    }
  })();
  if (parsed.values.help) {
    console.log(usage);
    process.exit(0);
  }
  return { values: flagValues(table, parsed.values), raw: parsed.values, positionals: parsed.positionals };
}

/** The options every trainer (train, pretrain, dpo) has: how far its run goes, how fast, and how
 *  often it is evaluated (TrainingRun's plan, the loop's schedule and evaluation). */
export interface TrainerOptions {
  epochs: number;
  maxSteps: number | null;
  batchSize: number;
  lr: number;
  weightDecay: number;
  evalEvery: number;
  evalBatches: number;
  seed: number;
}

/** The flags of every trainer, once: their values checked here (a positive integer is
 *  POSITIVE_INT), a command's own defaults and words in `help`. */
export function trainerFlags(base: TrainerOptions, help: { out: string; epochs?: string; batchSize?: string; lr?: string }) {
  const f = flagsFor<TrainerOptions>();
  return [
    own('out', TEXT, 'DIR', help.out),
    f.set('epochs', 'epochs', POSITIVE_INT, 'N', help.epochs ?? `(${base.epochs})`, { onResume: 'change' }),
    f.set('max-steps', 'maxSteps', POSITIVE_INT, 'N', 'stop at global step N', { nullable: true, onResume: 'change' }),
    f.set('batch-size', 'batchSize', POSITIVE_INT, 'N', help.batchSize ?? `(${base.batchSize})`),
    f.set('lr', 'lr', NUMBER, 'X', help.lr ?? `(${shown(base.lr)})`),
    f.set('weight-decay', 'weightDecay', NUMBER, 'X', `(${shown(base.weightDecay)})`),
    f.set('eval-every', 'evalEvery', POSITIVE_INT, 'N', `evaluate every N steps (${base.evalEvery})`),
    f.set('eval-batches', 'evalBatches', POSITIVE_INT, 'N', `batches per evaluation (${base.evalBatches})`),
    f.set('seed', 'seed', INT, 'N', `(${base.seed})`),
    own('resume', TEXT, 'DIR', 'continue a run from its checkpoint, bit for bit'),
  ] as const;
}
