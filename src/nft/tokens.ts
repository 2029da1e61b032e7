/**
 * The token cursor shared by the command and rule parsers, with nft-shaped
 * syntax errors (`syntax error, unexpected X, expecting Y`).
 */
import type { SourceLocation } from '../netfilter/bytecode.js';
import { NftError, nearest } from './diagnostics.js';
import type { Token } from './scanner.js';
import { KEYWORD_ALIAS, NFT_KEYWORDS } from './keywords.js';

export class Cursor {
  i = 0;
  /** Keywords the parser tried at the current position, for "did you mean". */
  private tried: string[] = [];

  constructor(readonly toks: Token[], readonly src: string) {}

  peek(n = 0): Token { return this.toks[Math.min(this.i + n, this.toks.length - 1)]!; }
  next(): Token { const t = this.peek(); if (t.kind !== 'eof') this.i++; this.tried = []; return t; }
  atEnd(): boolean { const k = this.peek().kind; return k === 'eof' || k === 'newline' || (k === 'punct' && (this.peek().text === ';' || this.peek().text === '}')); }

  isWord(text?: string, n = 0): boolean {
    const t = this.peek(n);
    if (n === 0 && text !== undefined) this.tried.push(text);
    return t.kind === 'word' && !t.variable && !t.setRef && (text === undefined || t.text === text);
  }
  isPunct(text: string, n = 0): boolean { const t = this.peek(n); return t.kind === 'punct' && t.text === text; }

  acceptWord(text: string): Token | undefined { return this.isWord(text) ? this.next() : undefined; }
  acceptPunct(text: string): Token | undefined { return this.isPunct(text) ? this.next() : undefined; }

  expectWord(text: string): Token {
    const t = this.acceptWord(text);
    if (!t) throw this.unexpected(text);
    return t;
  }
  expectPunct(text: string): Token {
    const t = this.acceptPunct(text);
    if (!t) throw this.unexpected(`'${text}'`);
    return t;
  }
  /** Any word or string: names of tables, chains, sets. */
  expectName(): Token {
    const t = this.peek();
    if ((t.kind === 'word' && !t.setRef && !t.variable) || t.kind === 'string' || t.kind === 'number') return this.next();
    throw this.unexpected('string');
  }
  /**
   * parser_bison.y `identifier: STRING`: the name of a table, chain, set, map,
   * flowtable, object or define. Keywords, quoted strings and numbers are other
   * tokens there, so nft refuses them with "unexpected X, expecting string".
   */
  expectIdentifier(): Token {
    const t = this.peek();
    if (t.kind === 'word' && !t.setRef && !t.variable && !NFT_KEYWORDS.has(t.text)) return this.next();
    throw this.unexpected('string');
  }
  /** A consumed `@name` set reference: `set_ref_symbol_expr: AT identifier`, so a keyword is refused. */
  setRefName(t: Token): string {
    if (NFT_KEYWORDS.has(t.text)) throw this.unexpected('string', { ...t, setRef: false, loc: { ...t.loc, first: t.loc.first + 1 } });
    return t.text;
  }
  expectNumber(): number {
    const t = this.peek();
    if (t.kind === 'number') { this.next(); return Number(t.text); }
    throw this.unexpected('number');
  }

  /** nft's wording for a token in "unexpected X". */
  describe(t: Token): string {
    switch (t.kind) {
      case 'eof': return 'end of file';
      case 'newline': return 'newline';
      case 'number': return 'number';
      case 'string': return 'quoted string';
      case 'punct': return t.text === ';' ? 'semicolon' : t.text === ',' ? 'comma' : t.text === '{' ? "'{'" : t.text === '}' ? "'}'" : `'${t.text}'`;
      default: return t.variable ? 'variable' : t.setRef ? 'set reference' : KEYWORD_ALIAS[t.text] ?? t.text;
    }
  }

  unexpected(expecting?: string, t = this.peek()): NftError {
    const hint = t.kind === 'word' && this.tried.length ? nearest(t.text, this.tried) : undefined;
    const loc = t.kind === 'eof' || t.kind === 'newline' ? { ...t.loc, last: t.loc.first } : t.loc;
    if (expecting) return new NftError('UNEXPECTED_EXPECTING', [this.describe(t), expecting], loc, [], hint);
    return new NftError('UNEXPECTED', [this.describe(t)], loc, [], hint);
  }

  /** Location spanning two tokens. */
  span(a: SourceLocation, b: SourceLocation): SourceLocation {
    return a.line === b.line ? { ...a, last: Math.max(a.last, b.last) } : a;
  }
  prevLoc(): SourceLocation { return this.toks[Math.max(this.i - 1, 0)]!.loc; }
}
