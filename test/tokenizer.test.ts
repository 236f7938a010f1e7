import t from 'tap';
import { decode, encode, END_OF_TEXT, StreamingDecoder } from '../model/tokenizer.ts';

t.same(encode('Hello, I am'), [15496, 11, 314, 716]);
t.same(encode('a<|endoftext|>b'), [64, END_OF_TEXT, 65], 'the special token where allowed');
t.not(encode('<|endoftext|>', false).length, 1, 'as plain text where not allowed');
t.equal(decode([15496, 11, 314, 716, END_OF_TEXT]), 'Hello, I am<|endoftext|>');
for (const s of ['Héllo wörld — ok? 🙂', ' leading space', 'tabs\tand\nnewlines', ''])
  t.equal(decode(encode(s)), s, `round trip ${JSON.stringify(s)}`);
t.throws(() => decode([50257]), /outside the GPT-2 vocabulary/);
const d = new StreamingDecoder();
const ids = encode('🙂 ok');
t.equal(ids.map((id) => d.push(id)).join(''), '🙂 ok', 'streaming never prints half a character');
