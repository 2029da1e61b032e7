/**
 * Conformance over the nftables 1.0.6 tests/py corpus (FORMAT.md): ok/fail
 * agreement, bytecode and set-element lines for every rule in every chain of
 * every table. Prints one scoreboard line per check and fails if a figure
 * falls below the committed baseline (a ratchet: raise the baseline when the
 * numbers go up, never lower it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCorpus } from '../src/nft/conformance/corpus.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// dist/test/ → repository root
const repo = path.resolve(here, '..', '..');
const corpus = path.resolve(repo, '..', 'shared', 'conformance', 'nftables-py');
const baselineFile = path.join(repo, 'test', 'fixtures', 'nft-conformance-baseline.json');
// What the real nft 1.0.6 prints for listed forms whose bytecode differs from the corpus
// payload (checked against the binary by nft-relisted.test.ts).
const listedTruthFile = path.join(repo, 'test', 'fixtures', 'nft-relisted-binary.json');

interface Baseline { [check: string]: { pass: number; total: number } }

test('nft conformance scoreboard over the tests/py corpus', (t) => {
  if (!fs.existsSync(corpus)) { t.skip(`corpus not found at ${corpus}`); return; }
  const sb = runCorpus(corpus, undefined, JSON.parse(fs.readFileSync(listedTruthFile, 'utf8')));
  const baseline: Baseline = JSON.parse(fs.readFileSync(baselineFile, 'utf8'));
  // Checks of FORMAT.md not implemented yet are reported as 0/N so the board is complete.
  const board: Record<string, { pass: number; total: number }> = {
    'ok/fail agreement': sb.okfail,
    bytecode: sb.bytecode,
    'set element lines': sb.setlines,
    listing: sb.listing,
    'bytecode of listed form': sb.relisted,
    'JSON bytecode': sb.jsonBytecode,
    'JSON listing': sb.jsonListing,
  };
  for (const [name, r] of Object.entries(board)) {
    const pct = r.total ? ((100 * r.pass) / r.total).toFixed(1) : '0.0';
    t.diagnostic(`nft-conformance ${name}: ${r.pass}/${r.total} (${pct}%) baseline ${baseline[name]?.pass ?? 0}`);
    console.log(`nft-conformance ${name}: ${r.pass}/${r.total} (${pct}%)`);
  }
  // NFX_CONFORMANCE_VERBOSE=1 lists every failing case per check, to classify what is left.
  if (process.env['NFX_CONFORMANCE_VERBOSE']) {
    for (const [name, r] of Object.entries(board)) {
      for (const f of (r as { failures?: string[] }).failures ?? []) console.log(`[${name}] ${f}`);
    }
  }
  for (const [name, b] of Object.entries(baseline)) {
    if (name.startsWith('differential')) continue; // ratcheted by nft-differential.test.ts
    const r = board[name];
    assert.ok(r, `baseline names an unknown check ${name}`);
    assert.ok(r.pass >= b.pass, `${name} fell below the baseline: ${r.pass} < ${b.pass}\nfirst failures:\n${(name === 'bytecode' ? sb.bytecode.failures : name === 'ok/fail agreement' ? sb.okfail.failures : sb.setlines.failures).slice(0, 5).join('\n')}`);
  }
});
