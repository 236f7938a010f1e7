// The prompt-loss-weight study's data knob: the fact world's questions with shorter or longer
// answers, so the instruction/response length ratio (which the papers say decides whether the
// prompt's loss matters) can be varied on the same questions. It rewrites generateFactData's
// entries without touching the fact world itself (facts.ts):
//   short  the plain answer's last two words, the value and the word before it ("in Paris."): a
//          few tokens, the prompts many times longer. The value alone would start the answer
//          without a space, "Paris" where the biographies have " Paris": a token the base never
//          read, which no finetuning step on other people can tie to a held-out person's fact
//          (a first study with bare values scored 0% held-out exact match at every weight)
//   plain  the entries as generated ("This person was born in Paris."), the built-in run's answers
//   long   the plain answer followed by two biographies of the person, every fact restated in the
//          pretraining text's own statement forms: responses longer than the prompts.
// The long answers' sentence forms and order are drawn once with a fixed seed, so every person's
// long answer has the same shape (a pattern the finetuning can learn, as the plain answers are)
// and the facts in it are the person's own, which a base pretrained on the biographies knows.
import { biographies, factWorld, questionFact, type Person } from './facts.ts';
import type { SyntheticEntry } from './synthetic.ts';

export const RESPONSE_LENGTHS = ['short', 'plain', 'long'] as const;
export type ResponseLength = (typeof RESPONSE_LENGTHS)[number];

/** How many biographies of the person follow the plain answer in a long one. */
const LONG_BIOGRAPHIES = 2;
/** The one seed every long answer's biographies are drawn with (same forms and order for all). */
const LONG_SEED = 7;

export function checkResponseLength(name: string): ResponseLength {
  if (!(RESPONSE_LENGTHS as readonly string[]).includes(name)) {
    throw new Error(`unknown --response-length "${name}": use short (the value and the word before it), ` +
      `plain (a sentence, as generated) or long (the sentence and two biographies)`);
  }
  return name as ResponseLength;
}

/** "This person was born in Paris." -> "in Paris." (the value with the word before it and what follows). */
function lastTwoWords(answer: string, value: string): string {
  const at = answer.lastIndexOf(value);
  if (at < 0) throw new Error(`the answer "${answer}" does not state its value "${value}"`);
  return answer.slice(answer.lastIndexOf(' ', at - 2) + 1);
}

/** The entries with their answers made `length` long (plain: unchanged). */
export function withResponseLength(entries: readonly SyntheticEntry[], length: string,
  world: readonly Person[] = factWorld()): SyntheticEntry[] {
  const kind = checkResponseLength(length);
  if (kind === 'plain') return entries.map((e) => ({ ...e }));
  const long = new Map<string, string>();
  return entries.map((e) => {
    const { person } = questionFact(e, world);
    if (kind === 'short') return { ...e, output: lastTwoWords(e.output, person.facts[e.task]) };
    let tail = long.get(person.name);
    if (tail === undefined) long.set(person.name, (tail = biographies(LONG_BIOGRAPHIES, LONG_SEED, [person]).join(' ')));
    return { ...e, output: `${e.output} ${tail}` };
  });
}
