// Python's json module writes NaN, Infinity and -Infinity (allow_nan, its default), which
// JSON.parse refuses. A fixture written so (a reference run that diverged) still reads.

/** A string no fixture holds, standing in for NaN while JSON.parse reads the text. */
const NAN = '\u0000goal:NaN';

/**
 * JSON.parse, and, when that fails on a text with Python's non-finite words outside strings,
 * JSON.parse of the text with them as numbers. A text that fails either way throws
 * JSON.parse's error on the text as given.
 */
export function parsePythonJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    let found = false;
    // Strings first, so that the words inside them stay as they are.
    const swapped = text.replace(/"(?:[^"\\]|\\.)*"|(-?)\b(Infinity|NaN)\b/g, (match, sign: string, word?: string) => {
      if (!word) return match;
      found = true;
      return word === 'NaN' ? (sign ? match : JSON.stringify(NAN)) : `${sign}1e999`; // 1e999 parses as Infinity
    });
    if (!found) throw err;
    try {
      return JSON.parse(swapped, (_key, value: unknown) => (value === NAN ? NaN : value));
    } catch {
      throw err;
    }
  }
}

/**
 * About how many bytes of V8's heap parsePythonJson(text) takes, from what the text holds
 * (measured on Node 20: a list or object ~72 bytes, an element 8, a string ~32; Python's NaN and
 * Infinity ~256 each, the words being swapped by a callback on a copy of the text). Near the
 * truth for what fixtures hold (lists of numbers: under half their text); a long list of
 * short lists takes 12 times its text.
 */
export function parsedBytes(text: string): number {
  let containers = 0, elements = 0, quotes = 0, nonFinite = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) containers++; // [ {
    else if (c === 0x2c) elements++; // ,
    else if (c === 0x22) quotes++; // "
    else if ((c === 0x4e && text.startsWith('NaN', i)) || (c === 0x49 && text.startsWith('Infinity', i))) nonFinite++;
  }
  return 72 * containers + 8 * (elements + containers) + 16 * quotes + (nonFinite ? 256 * nonFinite + 2 * text.length : 0);
}

/** The most parsedBytes gives per character of text (`[[[`, `NaN,NaN`): a bound without counting. */
export const PARSED_BYTES_PER_CHAR = 80;
