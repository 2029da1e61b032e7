import { fileURLToPath } from 'node:url';
/**
 * The libnftnl debug text of bytecode: every expression line recorded in the
 * nftables tests/py corpus parses to an Expr that prints back identically.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  printExpr, printRule, parseExprLine, parseElementLine, printElementLine, parseSetDeclLine, printSetDecl,
} from '../src/netfilter/bytecode-text.js';
import type { Expr } from '../src/netfilter/bytecode.js';
import { NFT_JUMP, NF_ACCEPT } from '../src/netfilter/bytecode.js';

const CORPUS = fileURLToPath(new URL('../../../shared/conformance/nftables-py', import.meta.url));

function payloadFiles(): string[] {
  const out: string[] = [];
  for (const dir of ['any', 'arp', 'bridge', 'inet', 'ip', 'ip6', 'netdev']) {
    const d = join(CORPUS, dir);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) if (f.includes('.payload')) out.push(join(d, f));
  }
  return out;
}

test('every corpus expression line round-trips through parseExprLine/printRule', (t) => {
  const files = payloadFiles();
  if (files.length === 0) { t.skip('corpus not present'); return; }
  let n = 0;
  for (const f of files) {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (!/^\s*\[/.test(line)) continue;
      const e = parseExprLine(line);
      assert.equal(printRule([e])[0], line, `${f}: ${line}`);
      n++;
    }
  }
  assert.ok(n > 9000, `only ${n} lines`);
});

test('every corpus element line round-trips (whitespace collapsed)', (t) => {
  const files = payloadFiles();
  if (files.length === 0) { t.skip('corpus not present'); return; }
  const norm = (s: string): string => s.replace(/\s+/g, ' ').trim();
  let n = 0;
  for (const f of files) {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (!line.includes('element ') || !line.includes('[end]')) continue;
      const els = parseElementLine(line);
      assert.ok(els.length > 0);
      assert.equal(norm(printElementLine(els)), norm(line), `${f}: ${line}`);
      n += els.length;
    }
  }
  assert.ok(n > 2000, `only ${n} elements`);
});

test('set declaration lines round-trip', () => {
  for (const l of ['__set%d test-ip4 3 size 1', '__map%d test-inet b', '__set%d test-ip4 0', '__objmap%d x 43 size 2', 's t 17 timeout 30000ms']) {
    const d = parseSetDeclLine(l)!;
    assert.equal(printSetDecl(d), l);
  }
});

test('data is printed as little-endian 32-bit words, zero padded', () => {
  const e: Expr = { type: 'cmp', sreg: 1, op: 0, data: Uint8Array.of(0x00, 0x16) };
  assert.equal(printExpr(e), '[ cmp eq reg 1 0x00001600 ]');
  const ip: Expr = { type: 'cmp', sreg: 1, op: 0, data: Uint8Array.of(127, 0, 0, 1) };
  assert.equal(printExpr(ip), '[ cmp eq reg 1 0x0100007f ]');
});

test('verdicts with chains, and expressions with no body', () => {
  assert.equal(printExpr({ type: 'immediate', dreg: 0, verdict: { code: NFT_JUMP, chain: 'c1' } }), '[ immediate reg 0 jump -> c1 ]');
  assert.deepEqual(parseExprLine('  [ immediate reg 0 goto -> other ]'), { type: 'immediate', dreg: 0, verdict: { code: -4, chain: 'other' } });
  assert.equal(printExpr({ type: 'notrack' }), '[ notrack ]');
  assert.equal(printExpr({ type: 'masq' }), '[ masq ]');
  assert.equal(printExpr({ type: 'lookup', sreg: 1, set: '__set%d', flags: 1 }), '[ lookup reg 1 set __set%d 0x1 ]');
  assert.equal(printExpr({ type: 'immediate', dreg: 0, verdict: { code: NF_ACCEPT } }), '[ immediate reg 0 accept ]');
});

test('limit units fold into the largest whole unit', () => {
  assert.equal(printExpr({ type: 'limit', rate: 400, unit: 60, burst: 5, limitType: 0, flags: 0 }), '[ limit rate 400/minute burst 5 type packets flags 0x0 ]');
  assert.equal(printExpr({ type: 'limit', rate: 1, unit: 120, burst: 0, limitType: 0, flags: 0 }), '[ limit rate 1/2 minute burst 0 type packets flags 0x0 ]');
  assert.equal((parseExprLine('[ limit rate 1/2 minute burst 0 type packets flags 0x0 ]') as { unit: number }).unit, 120);
});

test('catch-all and concatenated-range elements', () => {
  const els = parseElementLine('\telement 00000001  : drop 0 [end]\telement  : accept 2 [end]\telement 0100000a 00001600  - 0200000a 00001700  : 0 [end]');
  assert.equal(els.length, 3);
  assert.equal(els[1]!.key.length, 0);
  assert.equal(els[1]!.flags, 2);
  assert.equal(els[2]!.keyEnd!.length, 8);
  assert.equal(printElementLine(els), '\telement 00000001  : drop 0 [end]\telement  : accept 2 [end]\telement 0100000a 00001600  - 0200000a 00001700  : 0 [end]');
});

test('the real nft output for the 40 real-world rulesets round-trips too', (t) => {
  const dir = fileURLToPath(new URL('../../../shared/conformance/real-rulesets', import.meta.url));
  if (!existsSync(dir)) { t.skip('real-rulesets corpus not present'); return; }
  const norm = (s: string): string => s.replace(/\s+/g, ' ').trim();
  let lines = 0;
  let elements = 0;
  for (const d of readdirSync(dir)) {
    const f = join(dir, d, 'expected.debug-netlink');
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (/^\s*\[/.test(line)) {
        assert.equal(printRule([parseExprLine(line)])[0], line, `${d}: ${line}`);
        lines++;
      } else if (line.includes('element ') && line.includes('[end]')) {
        const els = parseElementLine(line);
        assert.equal(norm(printElementLine(els)), norm(line), d);
        elements += els.length;
      }
    }
  }
  assert.ok(lines > 3000 && elements > 20000, `${lines} lines, ${elements} elements`);
});
