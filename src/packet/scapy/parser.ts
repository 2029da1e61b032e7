/**
 * Recursive-descent parser for packet expressions:
 *
 *   expression := term ('/' term)*
 *   term       := call | string            (a string is Raw(load=string), as in scapy)
 *   call       := NAME '(' [arg (',' arg)* [',']] ')'
 *   arg        := NAME '=' value | value
 *   value      := int | '-' int | string | bytes | None | True | False
 *               | '[' values ']' | '(' values ')' | call
 *
 * It knows nothing about layers; evaluate.ts checks names and values.
 */
import type { ArgNode, CallNode, ExpressionNode, ValueNode } from './ast.js';
import { PacketExpressionError, type SourceLocation } from './errors.js';
import { scan, type Token, type TokenKind } from './scanner.js';

/** Longest layer chain accepted (tunnels and quoted packets stay far below it). */
export const MAX_LAYERS = 64;

export function parseExpressionSyntax(src: string): ExpressionNode {
  const toks = scan(src);
  let p = 0;
  const peek = (): Token => toks[p]!;
  const fail = (msg: string, t: Token = peek()): never => {
    throw new PacketExpressionError('syntax', msg, { start: t.start, end: Math.max(t.end, t.start + 1) }, src);
  };
  const describe = (t: Token): string => (t.kind === 'eof' ? 'end of expression' : `"${src.slice(t.start, t.end)}"`);
  const expect = (k: TokenKind, what: string): Token => {
    const t = peek();
    if (t.kind !== k) fail(`expected ${what}, found ${describe(t)}`);
    p++;
    return t;
  };
  const span = (a: number, b: number): SourceLocation => ({ start: a, end: b });

  function call(nameTok: Token): CallNode {
    expect('(', `"(" after ${nameTok.text}`);
    const positional: ValueNode[] = [];
    const args: ArgNode[] = [];
    while (peek().kind !== ')') {
      const t = peek();
      if (t.kind === 'name' && toks[p + 1]!.kind === '=') {
        p += 2;
        args.push({ name: t.text!, nameLoc: span(t.start, t.end), value: value() });
      } else {
        if (args.length) fail('positional argument follows keyword argument');
        positional.push(value());
      }
      if (peek().kind === ',') p++;
      else if (peek().kind !== ')') fail(`expected "," or ")", found ${describe(peek())}`);
    }
    const close = expect(')', '")"');
    return { name: nameTok.text!, nameLoc: span(nameTok.start, nameTok.end), positional, args, loc: span(nameTok.start, close.end) };
  }

  function items(close: ')' | ']'): ValueNode[] {
    const out: ValueNode[] = [];
    while (peek().kind !== close) {
      out.push(value());
      if (peek().kind === ',') p++;
      else if (peek().kind !== close) fail(`expected "," or "${close}", found ${describe(peek())}`);
    }
    return out;
  }

  // Bounds recursion: nothing real nests deeper than an option list in a record list.
  const MAX_NESTING = 32;
  let depth = 0;
  function value(): ValueNode {
    if (++depth > MAX_NESTING) fail(`values nest more than ${MAX_NESTING} deep`);
    try {
      return valueInner();
    } finally {
      depth--;
    }
  }

  function valueInner(): ValueNode {
    const t = peek();
    switch (t.kind) {
      case 'int':
        p++;
        return { kind: 'int', value: t.int!, loc: span(t.start, t.end) };
      case '-': {
        p++;
        const n = peek();
        if (n.kind !== 'int') fail(`expected a number after "-", found ${describe(n)}`);
        p++;
        return { kind: 'int', value: -n.int!, loc: span(t.start, n.end) };
      }
      case 'str':
        p++;
        return { kind: 'str', value: t.str!, loc: span(t.start, t.end) };
      case 'bytes':
        p++;
        return { kind: 'bytes', value: t.bytes!, loc: span(t.start, t.end) };
      case '[': {
        p++;
        const it = items(']');
        const e = expect(']', '"]"');
        return { kind: 'list', items: it, loc: span(t.start, e.end) };
      }
      case '(': {
        p++;
        const it = items(')');
        const e = expect(')', '")"');
        return { kind: 'tuple', items: it, loc: span(t.start, e.end) };
      }
      case 'name': {
        p++;
        if (t.text === 'None') return { kind: 'none', loc: span(t.start, t.end) };
        if (t.text === 'True') return { kind: 'true', loc: span(t.start, t.end) };
        if (t.text === 'False') return { kind: 'false', loc: span(t.start, t.end) };
        if (peek().kind !== '(') fail(`expected a value, found the name "${t.text}" (only None, True, False and Layer(...) calls are allowed)`, t);
        const c = call(t);
        if (peek().kind !== '/') return { kind: 'call', call: c, loc: c.loc };
        // A packet as a value: Layer(...)/Layer(...)/"payload".
        const layers = [c];
        while (peek().kind === '/') {
          p++;
          if (layers.length >= MAX_LAYERS) fail(`more than ${MAX_LAYERS} layers`);
          layers.push(term());
        }
        return { kind: 'packet', layers, loc: span(c.loc.start, layers[layers.length - 1]!.loc.end) };
      }
      default:
        return fail(`expected a value, found ${describe(t)}`);
    }
  }

  function term(): CallNode {
    const t = peek();
    if (t.kind === 'str' || t.kind === 'bytes') {
      // scapy: Packet / "text" appends Raw(load=text).
      p++;
      const loc = span(t.start, t.end);
      const v: ValueNode = t.kind === 'str' ? { kind: 'str', value: t.str!, loc } : { kind: 'bytes', value: t.bytes!, loc };
      return { name: 'Raw', nameLoc: loc, positional: [], args: [{ name: 'load', nameLoc: loc, value: v }], loc };
    }
    if (t.kind !== 'name') fail(`expected a layer such as IP(...), found ${describe(t)}`);
    p++;
    return call(t);
  }

  // Python cannot build a packet from a lone string: the first term must be a layer.
  if (peek().kind === 'str' || peek().kind === 'bytes') fail('an expression starts with a layer such as IP(...); use Raw(load=...) for bare data');
  const layers = [term()];
  while (peek().kind === '/') {
    p++;
    // Building recurses once per layer: keep the chain far below the stack limit.
    if (layers.length >= MAX_LAYERS) fail(`more than ${MAX_LAYERS} layers`);
    layers.push(term());
  }
  if (peek().kind !== 'eof') fail(`expected "/" or end of expression, found ${describe(peek())}`);
  return { source: src, layers };
}
