/**
 * The nft scanner: text → tokens with locations.
 *
 * Like nftables' flex scanner (src/scanner.l) most words are not reserved
 * here: a keyword is just a `word` token and the parser decides by context,
 * which is also how `tcp dport ssh` reaches the datatype parser as a symbol.
 * Values that start with a digit (addresses, MACs, `1h30m`) are `word`s too;
 * only pure decimal/hex numerals are `number`s.
 */
import type { SourceLocation } from '../netfilter/bytecode.js';

export type TokenKind = 'word' | 'number' | 'string' | 'punct' | 'newline' | 'eof';

export interface Token {
  kind: TokenKind;
  text: string;
  loc: SourceLocation;
  /** Byte offset of the token in the input, for error underlining. */
  start: number;
  end: number;
  /** `$name` variable reference. */
  variable?: boolean;
  /** `@name` set reference. */
  setRef?: boolean;
}

// Two-character operators first: the scanner takes the longest match, as flex does.
const PUNCT2 = ['==', '!=', '<=', '>=', '<<', '>>'];
const PUNCT1 = '{}()[],;:./-*=<>&|^~!#@$+';

const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isLetter = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isHex = (c: string): boolean => isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
// scanner.l `string`: ({letter}|[_.])({letter}|{digit}|[/\-_\.])*
const isWordChar = (c: string): boolean => isLetter(c) || isDigit(c) || c === '_' || c === '-' || c === '/' || c === '.';

/** An IPv6 address (RFC 4291 §2.2 text forms, incl. an embedded dotted quad). */
export function isIp6Text(s: string): boolean {
  if (!s.includes(':')) return false;
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return false;
  const parts = s.split(':');
  let groups = 0;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p === '') continue;
    if (i === parts.length - 1 && p.includes('.')) {
      if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(p)) return false;
      groups += 2;
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return false;
    groups++;
  }
  if (s.startsWith(':') && !s.startsWith('::')) return false;
  if (s.endsWith(':') && !s.endsWith('::')) return false;
  return dbl >= 0 ? groups < 8 : groups === 8;
}

/** A link-layer address such as `00:0f:54:0c:11:04` (hex bytes separated by `:`). */
export function isLLAddrText(s: string): boolean {
  return /^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2})+$/.test(s);
}

export class Scanner {
  private pos = 0;
  private line = 1;
  private lineStart = 0;

  constructor(readonly src: string, readonly file: string) {}

  private locOf(start: number, end: number, line: number, lineStart: number): SourceLocation {
    return { file: this.file, line, first: start - lineStart + 1, last: Math.max(end - lineStart, start - lineStart + 1) };
  }

  /** All tokens, ending with one `eof`. Throws ScanError for a character nft would not accept. */
  tokenize(): Token[] {
    const out: Token[] = [];
    for (;;) {
      const t = this.next();
      out.push(t);
      if (t.kind === 'eof') return out;
    }
  }

  private make(kind: TokenKind, start: number, text: string, extra?: Partial<Token>): Token {
    return { kind, text, start, end: this.pos, loc: this.locOf(start, this.pos, this.line, this.lineStart), ...extra };
  }

  next(): Token {
    const s = this.src;
    for (;;) {
      if (this.pos >= s.length) return this.make('eof', this.pos, '');
      const c = s[this.pos]!;
      if (c === ' ' || c === '\t' || c === '\r') { this.pos++; continue; }
      // A backslash-newline continues the line (scanner.l).
      if (c === '\\' && s[this.pos + 1] === '\n') { this.pos += 2; this.newLine(); continue; }
      if (c === '#') {
        while (this.pos < s.length && s[this.pos] !== '\n') this.pos++;
        continue;
      }
      break;
    }
    const start = this.pos;
    const c = s[start]!;
    if (c === '\n') {
      const t = this.make('newline', start, '\n');
      this.pos++;
      t.end = this.pos;
      this.newLine();
      return t;
    }
    if (c === '"') {
      this.pos++;
      while (this.pos < s.length && s[this.pos] !== '"' && s[this.pos] !== '\n') this.pos++;
      if (s[this.pos] !== '"') throw new ScanError('unterminated string', this.locOf(start, this.pos, this.line, this.lineStart));
      this.pos++;
      return this.make('string', start, s.slice(start + 1, this.pos - 1));
    }
    if ((c === '$' || c === '@') && this.pos + 1 < s.length && (isLetter(s[this.pos + 1]!) || s[this.pos + 1] === '_')) {
      this.pos++;
      // `$var` names stop at '/' and '.' (`$net/24`); set names may hold them (`@v4-dc/management`).
      while (this.pos < s.length && isWordChar(s[this.pos]!) && (c === '@' || (s[this.pos] !== '/' && s[this.pos] !== '.'))) this.pos++;
      const text = s.slice(start + 1, this.pos);
      return this.make('word', start, text, c === '$' ? { variable: true } : { setRef: true });
    }
    if (isDigit(c) || isLetter(c) || c === '_' || (c === ':' && s[start + 1] === ':')) {
      return this.wordLike(start);
    }
    const two = s.slice(start, start + 2);
    if (PUNCT2.includes(two)) { this.pos += 2; return this.make('punct', start, two); }
    if (PUNCT1.includes(c)) { this.pos++; return this.make('punct', start, c); }
    this.pos++;
    throw new ScanError(`syntax error, unexpected character '${c}'`, this.locOf(start, this.pos, this.line, this.lineStart));
  }

  /**
   * Words, numbers, addresses. An address may hold `:` (IPv6, MAC), which is
   * also the map separator, so a run with `:` is kept whole only when it is
   * a valid address; otherwise it stops at the first `:`.
   */
  private wordLike(start: number): Token {
    const s = this.src;
    let end = start;
    while (end < s.length && (isWordChar(s[end]!) || s[end] === ':')) end++;
    let text = s.slice(start, end);
    // Word chars include '/' and '-' (scanner.l), but a prefix or range
    // after an address or number belongs to the parser: `10.0.0.0/8`, `22-25`.
    const cut = (t: string): string => {
      if (isDigit(t[0]!) || t.includes(':')) {
        const m = /[\/-]/.exec(t);
        if (m && m.index > 0) return t.slice(0, m.index);
      }
      return t;
    };
    if (text.includes(':')) {
      const noTail = cut(text);
      if (isIp6Text(noTail) || isLLAddrText(noTail) || /^[0-9a-fA-F]{1,4}:[0-9a-fA-F]{1,4}$/.test(noTail)) text = noTail;
      else {
        // The longest prefix that is an IPv6 address (`aaaa:::accept` is `aaaa::` then `:accept`).
        let best = '';
        for (let i = noTail.length - 1; i > 0; i--) {
          if (noTail[i] === ':' && isIp6Text(noTail.slice(0, i))) { best = noTail.slice(0, i); break; }
        }
        text = best || (text.startsWith('::') ? noTail : cut(text.slice(0, text.indexOf(':'))));
      }
    } else {
      text = cut(text);
    }
    if (text === '') text = s[start]!;
    this.pos = start + text.length;
    const kind: TokenKind = /^(\d+|0x[0-9a-fA-F]+)$/.test(text) ? 'number' : 'word';
    return this.make(kind, start, text);
  }

  private newLine(): void {
    this.line++;
    this.lineStart = this.pos;
  }
}

export class ScanError extends Error {
  constructor(message: string, readonly loc: SourceLocation) {
    super(message);
  }
}

export { isHex };
