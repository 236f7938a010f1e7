// Prompt styles for instruction finetuning. The strings are exactly those of chapter 7 of
// "Build a Large Language Model (From Scratch)": a model finetuned with one style must be prompted
// with byte-identical text, so nothing here may be reworded.
import type { Entry } from './entries.ts';

export const STYLES = ['alpaca', 'phi3'] as const;
export type PromptStyle = (typeof STYLES)[number];

export const ALPACA_PREAMBLE =
  'Below is an instruction that describes a task. Write a response that appropriately completes the request.';
export const ALPACA_RESPONSE_HEADER = '\n\n### Response:\n';
export const PHI3_RESPONSE_HEADER = '\n<|assistant|>:\n';

/** The three consecutive pieces of a training text: prompt + header + body === full text.
 *  Callers tokenize them to know how many tokens each region has (masking studies). */
export interface PromptPieces {
  prompt: string;
  header: string;
  body: string;
}

/** Throws a message listing the known styles; returns the style narrowed to PromptStyle. */
export function checkStyle(style: string): PromptStyle {
  if (!(STYLES as readonly string[]).includes(style)) {
    throw new Error(`unknown prompt style "${style}": expected one of ${STYLES.join(', ')}`);
  }
  return style as PromptStyle;
}

function hasInput(entry: Entry): boolean {
  return typeof entry.input === 'string' && entry.input !== '';
}

/** The inference prompt: everything before the response header (chapter's `format_input`). */
export function formatPrompt(entry: Entry, style: string): string {
  switch (checkStyle(style)) {
    case 'alpaca':
      return (
        ALPACA_PREAMBLE + '\n\n### Instruction:\n' + entry.instruction + (hasInput(entry) ? '\n\n### Input:\n' + entry.input : '')
      );
    case 'phi3':
      return '<|user|>\n' + entry.instruction + (hasInput(entry) ? '\n' + entry.input : '');
  }
}

/** The response header of a style, the text that separates prompt and answer. */
export function responseHeader(style: string): string {
  return checkStyle(style) === 'alpaca' ? ALPACA_RESPONSE_HEADER : PHI3_RESPONSE_HEADER;
}

/** Response header + output: appended to formatPrompt to make the training text. */
export function formatResponse(entry: Entry, style: string): string {
  return responseHeader(style) + entry.output;
}

/** The full training text (prompt + header + output), without the end-of-text token. */
export function formatTraining(entry: Entry, style: string): string {
  return formatPrompt(entry, style) + formatResponse(entry, style);
}

export function promptPieces(entry: Entry, style: string): PromptPieces {
  return { prompt: formatPrompt(entry, style), header: responseHeader(style), body: entry.output };
}
