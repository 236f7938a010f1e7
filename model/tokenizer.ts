// GPT-2 byte-pair tokenizer. gpt-3-encoder does the BPE; it does not know the one special token,
// so `<|endoftext|>` (id 50256) is split out here on the way in and written back on the way out.
import gpt3 from 'gpt-3-encoder';

export const END_OF_TEXT = 50256;
export const END_OF_TEXT_STRING = '<|endoftext|>';
export const VOCAB_SIZE = 50257;

/** Encodes text. With `allowSpecial` (the default, as tiktoken's allowed_special={"<|endoftext|>"})
 *  the literal `<|endoftext|>` becomes id 50256; without it the literal is encoded as plain text. */
export function encode(text: string, allowSpecial = true): number[] {
  if (!allowSpecial) return gpt3.encode(text);
  const out: number[] = [];
  const parts = text.split(END_OF_TEXT_STRING);
  parts.forEach((part, i) => {
    if (i > 0) out.push(END_OF_TEXT);
    if (part.length > 0) out.push(...gpt3.encode(part));
  });
  return out;
}

export function decode(ids: ArrayLike<number>): string {
  let text = '';
  let run: number[] = [];
  const flush = (): void => {
    if (run.length > 0) text += gpt3.decode(run);
    run = [];
  };
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= VOCAB_SIZE) {
      throw new Error(`decode: token id ${id} is outside the GPT-2 vocabulary 0..${VOCAB_SIZE - 1}`);
    }
    if (id === END_OF_TEXT) {
      flush();
      text += END_OF_TEXT_STRING;
    } else run.push(id);
  }
  flush();
  return text;
}

/** Streams text out of a growing list of ids without printing half a UTF-8 character: returns the
 *  newly complete text each time a token is pushed. */
export class StreamingDecoder {
  private ids: number[] = [];
  private printed = 0;
  push(id: number): string {
    this.ids.push(id);
    const text = decode(this.ids);
    if (text.endsWith('\uFFFD')) return '';
    const fresh = text.slice(this.printed);
    this.printed = text.length;
    return fresh;
  }
}
