/**
 * Names in the nft command language: parser_bison.y reads every table, chain,
 * set, map, flowtable, object and define name as `identifier: STRING`, so a
 * word nft 1.0.6's scanner always makes a keyword cannot be a name, while
 * words it knows only inside a start condition (`input`, `filter`, `dscp`)
 * can. Expectations are what /usr/sbin/nft 1.0.6 prints for the same input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, renderError, NftError } from '../src/nft/index.js';
import { NFT_KEYWORDS } from '../src/nft/keywords.js';

function firstErrorLine(src: string): string | undefined {
  try { parse(src, 'f.nft'); return undefined; } catch (e) {
    assert.ok(e instanceof NftError, `not an NftError: ${e}`);
    return renderError(e, src, 'f.nft').split('\n')[0];
  }
}

test('names: scanner keywords are refused as chain names, as nft 1.0.6 does', () => {
  for (const w of ['fwd', 'counter', 'ip', 'ct', 'set', 'map', 'accept', 'drop', 'tcp', 'meta', 'jump', 'log', 'dup', 'limit', 'queue', 'hour', 'mark', 'missing']) {
    const src = `add chain ip t ${w}`;
    assert.equal(firstErrorLine(src), `f.nft:1:16-${15 + w.length}: Error: syntax error, unexpected ${w}, expecting string`, src);
  }
});

test('names: keywords with a symbol token are named by the symbol', () => {
  assert.equal(firstErrorLine('add chain ip t and'), 'f.nft:1:16-18: Error: syntax error, unexpected &, expecting string');
  assert.equal(firstErrorLine('add chain ip t or'), "f.nft:1:16-17: Error: syntax error, unexpected '|', expecting string");
  assert.equal(firstErrorLine('add chain ip t eq'), 'f.nft:1:16-17: Error: syntax error, unexpected ==, expecting string');
});

test('names: words that are keywords only in a scanner scope stay valid names', () => {
  for (const w of ['input', 'filter', 'nat', 'in', 'out', 'dscp', 'version', 'saddr', 'protocol', 'state', 'a-b', 'a.b', 'a/b', '_x']) {
    assert.equal(firstErrorLine(`add table ip t\nadd chain ip t ${w}`), undefined, w);
  }
});

test('names: quoted strings and numbers are not identifiers', () => {
  assert.equal(firstErrorLine('add chain ip t "quoted"'), 'f.nft:1:16-23: Error: syntax error, unexpected quoted string, expecting string');
  assert.equal(firstErrorLine('add chain ip t 123'), 'f.nft:1:16-18: Error: syntax error, unexpected number, expecting string');
});

test('names: tables, sets, objects, defines, block chains and set references check the same list', () => {
  assert.equal(firstErrorLine('add table ip counter'), 'f.nft:1:14-20: Error: syntax error, unexpected counter, expecting string');
  assert.equal(firstErrorLine('add set ip t counter { type ipv4_addr; }'), 'f.nft:1:14-20: Error: syntax error, unexpected counter, expecting string');
  assert.equal(firstErrorLine('table ip t { chain counter { } }'), 'f.nft:1:20-26: Error: syntax error, unexpected counter, expecting string');
  assert.equal(firstErrorLine('table ip t { counter counter { } }'), 'f.nft:1:22-28: Error: syntax error, unexpected counter, expecting string');
  assert.equal(firstErrorLine('table ip t { chain c { ip saddr @counter; } }'), 'f.nft:1:34-40: Error: syntax error, unexpected counter, expecting string');
  assert.equal(firstErrorLine('define counter = 1'), 'f.nft:1:8-14: Error: syntax error, unexpected counter, expecting string');
  // A family word is the family, never the table's name.
  assert.equal(firstErrorLine('add table ip\n'), 'f.nft:1:13-13: Error: syntax error, unexpected newline, expecting string');
});

test('names: the keyword list is scanner.l\'s INITIAL-state words (153 in 1.0.6)', () => {
  assert.equal(NFT_KEYWORDS.size, 153);
  for (const w of ['input', 'output', 'filter', 'nat', 'dscp', 'in', 'out']) assert.equal(NFT_KEYWORDS.has(w), false, w);
});
