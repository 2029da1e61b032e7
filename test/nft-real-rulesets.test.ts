/**
 * Real rulesets (shared/conformance/real-rulesets): each `ruleset.nft` goes
 * through nfx's `nft -f` path (buildBatch) and every rule's bytecode is
 * compared, in order, with what the real nft 1.0.6 printed with
 * --debug=netlink (expected.debug-netlink). Ratcheted in the baseline file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { printExpr } from '../src/netfilter/bytecode-text.js';
import { buildBatch } from '../src/nft/batch.js';
import { NftError } from '../src/nft/diagnostics.js';
import { listRuleset } from '../src/nft/list-ruleset.js';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { commitBatch } from '../src/netfilter/transaction.js';
import { VirtualClock } from '../src/netfilter/clock.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const dir = path.resolve(repo, '..', 'shared', 'conformance', 'real-rulesets');
const baselineFile = path.join(repo, 'test', 'fixtures', 'nft-conformance-baseline.json');

/** The `[ ... ]` blocks of each rule, in order. */
function ruleBlocks(text: string): string[] {
  const blocks: string[] = [];
  let cur: string[] | undefined;
  for (const l of text.split('\n')) {
    if (l.startsWith('  [ ')) { if (!cur) { cur = []; blocks.push(''); } cur.push(l.trim()); blocks[blocks.length - 1] = cur.join('\n'); }
    else cur = undefined;
  }
  return blocks;
}

test('real rulesets compile to the bytecode nft 1.0.6 printed', (t) => {
  if (!fs.existsSync(dir)) { t.skip(`real rulesets not found at ${dir}`); return; }
  const baseline = JSON.parse(fs.readFileSync(baselineFile, 'utf8')) as Record<string, { pass: number }>;
  let same = 0;
  let total = 0;
  let listSame = 0;
  let listTotal = 0;
  const notes: string[] = [];
  for (const name of fs.readdirSync(dir).filter((d) => /^\d/.test(d)).sort()) {
    const d = path.join(dir, name);
    const expectedFile = path.join(d, 'expected.debug-netlink');
    if (!fs.existsSync(expectedFile)) continue;
    const want = ruleBlocks(fs.readFileSync(expectedFile, 'utf8'));
    total += want.length;
    const netdevs = fs.existsSync(path.join(d, 'netdevs.txt'))
      ? fs.readFileSync(path.join(d, 'netdevs.txt'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/\s+/)[0]!)
      : [];
    let got: string[];
    const wantList = fs.existsSync(path.join(d, 'expected.list')) ? fs.readFileSync(path.join(d, 'expected.list'), 'utf8').split('\n') : [];
    listTotal += wantList.length;
    try {
      const batch = buildBatch(fs.readFileSync(path.join(d, 'ruleset.nft'), 'utf8'), 'ruleset.nft', { interfaces: netdevs, include: (p) => (fs.existsSync(path.join(d, p)) ? fs.readFileSync(path.join(d, p), 'utf8') : undefined) });
      got = batch.flatMap((op) => (op.op === 'newrule' ? [op.rule.exprs.map((e) => printExpr(e)).join('\n')] : []));
      // `nft list ruleset` after loading: commit into the engine's ruleset and list it back.
      const rs = new Ruleset();
      const res = commitBatch(rs, batch, new VirtualClock(0));
      if (res.ok) {
        const lines = listRuleset(rs).split('\n');
        wantList.forEach((w, i) => { if (lines[i] === w) listSame++; });
      } else notes.push(`${name}: engine refused the batch`);
    } catch (e) {
      assert.ok(e instanceof NftError, `${name}: crash ${(e as Error).stack}`);
      notes.push(`${name}: not built: ${e.message}`);
      continue;
    }
    let ok = 0;
    want.forEach((w, i) => { if (got[i] === w) ok++; });
    same += ok;
    if (ok !== want.length) notes.push(`${name}: ${ok}/${want.length} rules identical`);
  }
  console.log(`nft-real-rulesets bytecode: ${same}/${total}`);
  console.log(`nft-real-rulesets listing lines: ${listSame}/${listTotal}`);
  t.diagnostic(`nft-real-rulesets listing lines: ${listSame}/${listTotal}`);
  assert.ok(listSame >= (baseline['real rulesets listing lines']?.pass ?? 0), `listing fell below the baseline: ${listSame}`);
  t.diagnostic(`nft-real-rulesets bytecode: ${same}/${total}\n${notes.join('\n')}`);
  assert.ok(same >= (baseline['real rulesets bytecode']?.pass ?? 0), `fell below the baseline: ${same}`);
});
