/**
 * Scanner for packet expressions: the subset of Python tokens that scapy's
 * notation uses — names, integers (decimal, 0x, 0o, 0b, with `_`), string and
 * bytes literals (single or double quoted, prefixes b/r/u, Python escapes),
 * and ( ) [ ] , = / + -. Hand-written, one pass, locations on every token.
 */
import { PacketExpressionError } from './errors.js';

export type TokenKind = 'name' | 'int' | 'str' | 'bytes' | '(' | ')' | '[' | ']' | ',' | '=' | '/' | '-' | '+' | 'eof';

export interface Token {
  kind: TokenKind;
  start: number;
  end: number;
  /** Identifier text (name). */
  text?: string;
  /** Integer value (int); bigint so 64-bit values survive. */
  int?: bigint;
  /** Decoded text (str) — encoded to UTF-8 when it lands in a byte field, as scapy does. */
  str?: string;
  /** Decoded bytes (bytes). */
  bytes?: Uint8Array;
}

const isIdStart = (c: string): boolean => /[A-Za-z_]/.test(c);
const isIdPart = (c: string): boolean => /[A-Za-z0-9_]/.test(c);

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  '\\': 0x5c, "'": 0x27, '"': 0x22, a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11,
};

export function scan(src: string): Token[] {
  const toks: Token[] = [];
  let i = 0;
  const fail = (code: 'syntax' | 'unterminated-string' | 'bad-escape' | 'bad-number', msg: string, s: number, e: number): never => {
    throw new PacketExpressionError(code, msg, { start: s, end: e }, src);
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    // String literal, possibly with a prefix (b, r, u, br, rb in any case).
    const pm = /^(?:[bB][rR]?|[rR][bB]?|[uU])?(['"])/.exec(src.slice(i, i + 3));
    if (pm) {
      const prefix = pm[0].slice(0, -1).toLowerCase();
      const isBytes = prefix.includes('b');
      const isRaw = prefix.includes('r');
      const quote = pm[1]!;
      i += pm[0].length;
      if (src.startsWith(quote.repeat(2), i)) {
        // Empty string, unless it opens a triple-quoted one (not supported).
        if (src[i + 2] === quote) fail('syntax', 'triple-quoted strings are not supported', start, i + 3);
      }
      const units: number[] = []; // bytes for b"", code points for str
      for (;;) {
        if (i >= src.length || src[i] === '\n') fail('unterminated-string', 'unterminated string', start, i);
        const ch = src[i]!;
        if (ch === quote) {
          i++;
          break;
        }
        if (ch === '\\' && !isRaw) {
          const escStart = i;
          const e = src[i + 1];
          if (e === undefined) fail('unterminated-string', 'unterminated string', start, i + 1);
          i += 2;
          if (Object.hasOwn(SIMPLE_ESCAPES, e!)) units.push(SIMPLE_ESCAPES[e!]!);
          else if (e === '\n') { /* line continuation */ }
          else if (e === 'x') {
            const h = src.slice(i, i + 2);
            if (!/^[0-9a-fA-F]{2}$/.test(h)) fail('bad-escape', 'invalid \\x escape: needs two hex digits', escStart, i + h.length);
            units.push(parseInt(h, 16));
            i += 2;
          } else if (/[0-7]/.test(e!)) {
            let o = e!;
            while (o.length < 3 && /[0-7]/.test(src[i] ?? '')) o += src[i++];
            units.push(parseInt(o, 8) & (isBytes ? 0xff : 0x1ff));
          } else if (!isBytes && (e === 'u' || e === 'U')) {
            const n = e === 'u' ? 4 : 8;
            const h = src.slice(i, i + n);
            if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) fail('bad-escape', `invalid \\${e} escape: needs ${n} hex digits`, escStart, i + h.length);
            const cp = parseInt(h, 16);
            if (cp > 0x10ffff) fail('bad-escape', 'escape is beyond the last Unicode code point', escStart, i + n);
            units.push(cp);
            i += n;
          } else if (!isBytes && e === 'N') fail('bad-escape', '\\N{...} escapes are not supported', escStart, i);
          else {
            // Python keeps unknown escapes as written (backslash included).
            units.push(0x5c);
            i--;
          }
          continue;
        }
        const cp = src.codePointAt(i)!;
        if (isBytes && cp > 0x7f) fail('syntax', 'bytes can only contain ASCII literal characters', i, i + 1);
        units.push(cp);
        i += cp > 0xffff ? 2 : 1;
      }
      if (isBytes) toks.push({ kind: 'bytes', start, end: i, bytes: Uint8Array.from(units) });
      else toks.push({ kind: 'str', start, end: i, str: String.fromCodePoint(...units) });
      continue;
    }
    if (isIdStart(c)) {
      while (i < src.length && isIdPart(src[i]!)) i++;
      toks.push({ kind: 'name', start, end: i, text: src.slice(start, i) });
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      while (i < src.length && /[0-9A-Za-z_.]/.test(src[i]!)) i++;
      const text = src.slice(start, i);
      const m = /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|[1-9](?:_?[0-9])*|0(?:_?0)*)$/.exec(text);
      if (!m) {
        const msg = /[.eE]/.test(text) && !/^0[xX]/.test(text) ? 'floating-point numbers are not supported' : `invalid number "${text}"`;
        fail('bad-number', msg, start, i);
      }
      const clean = text.replace(/_/g, '');
      toks.push({ kind: 'int', start, end: i, int: BigInt(clean.length > 1 && clean[0] === '0' && /[0-9]/.test(clean[1]!) ? '0' : clean) });
      continue;
    }
    if ('()[],=/-+'.includes(c)) {
      toks.push({ kind: c as TokenKind, start, end: i + 1 });
      i++;
      continue;
    }
    fail('syntax', `unexpected character "${c}"`, start, start + 1);
  }
  toks.push({ kind: 'eof', start: src.length, end: src.length });
  return toks;
}
