/**
 * Fuzzing the nft front end with the inputs users really write: every rule of
 * the nftables tests/py corpus and the 40 real-world ruleset files, mutated at
 * the token and the character level (deterministic seed; NFX_FUZZ_SEED=N
 * explores another). Over 100,000 inputs must neither crash nor hang: each
 * either compiles or is refused with an NftError that points into the input,
 * as nft's `file:line:col: Error:` does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileRuleText, NftError } from '../src/nft/index.js';
import { compileFile } from '../src/nft/compile-file.js';
import type { Family } from '../src/nft/ast.js';
import { mulberry32Float as prng } from '../src/netfilter/random.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const shared = path.resolve(here, '..', '..', '..', 'shared', 'conformance');
const corpus = path.join(shared, 'nftables-py');
const realRulesets = path.join(shared, 'real-rulesets');
const SEED = Number(process.env.NFX_FUZZ_SEED ?? 20261128);
/** Far above any honest compile of these inputs (~0.1 ms a rule, ~50 ms a large file). */
const SLOW_MS = 2000;


/** (family, rule) for every rule line of every .t file (FORMAT.md §2), in each family its `*` lines name. */
function corpusRules(): { family: Family; rule: string }[] {
  const out: { family: Family; rule: string }[] = [];
  for (const dir of ['any', 'arp', 'bridge', 'inet', 'ip', 'ip6', 'netdev']) {
    const d = path.join(corpus, dir);
    for (const f of fs.readdirSync(d).filter((n) => n.endsWith('.t')).sort()) {
      const families = new Set<Family>();
      const rules: string[] = [];
      for (const line of fs.readFileSync(path.join(d, f), 'utf8').split('\n')) {
        if (!line.trim() || '#:!?%-'.includes(line[0]!)) continue;
        if (line[0] === '*') { families.add(line.slice(1).split(';')[0] as Family); continue; }
        rules.push(line.split(';')[0]!);
      }
      for (const family of families) for (const rule of rules) out.push({ family, rule });
    }
  }
  return out;
}

/** Words and marks nft's grammar is made of, for token substitutions. */
const VOCAB = [
  'ip', 'ip6', 'tcp', 'udp', 'ct', 'meta', 'set', 'map', 'vmap', 'accept', 'drop', 'jump', 'goto', 'counter', 'limit',
  'rate', 'over', 'log', 'nat', 'dnat', 'snat', 'to', 'masquerade', 'saddr', 'daddr', 'dport', 'sport', 'state', 'mark',
  'flags', 'type', 'hook', 'priority', 'policy', 'table', 'chain', 'rule', 'element', 'timeout', 'interval', '{', '}',
  '(', ')', '[', ']', ',', ';', ':', '.', '-', '/', '@', '$x', '!=', '==', '<', '>=', '&', '|', '^', '"', '0', '65536',
  '0x', '10.0.0.1', '::1', '1.2.3.4/33', '1-', '4294967296', 'ssh', '\n', '\\', '#', '',
];

function tokens(s: string): string[] { return s.match(/"[^"]*"|[A-Za-z0-9_.:/$@-]+|\s+|./g) ?? []; }

/** One random edit: delete, duplicate or swap tokens, substitute a word, or insert/delete a character. */
function mutate(s: string, rnd: () => number): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const t = tokens(s);
  if (t.length === 0) return pick(VOCAB);
  const i = Math.floor(rnd() * t.length);
  switch (Math.floor(rnd() * 6)) {
    case 0: t.splice(i, 1); break;
    case 1: t.splice(i, 0, t[i]!); break;
    case 2: { const j = Math.floor(rnd() * t.length); [t[i], t[j]] = [t[j]!, t[i]!]; break; }
    case 3: t[i] = pick(VOCAB); break;
    case 4: { const w = t[i]!; const p = Math.floor(rnd() * (w.length + 1)); t[i] = w.slice(0, p) + pick(['{', '}', ';', '"', 'x', '0', '.', '/', '-', ' ']) + w.slice(p); break; }
    default: { const w = t[i]!; const p = Math.floor(rnd() * w.length); t[i] = w.slice(0, p) + w.slice(p + 1); break; }
  }
  return t.join('');
}

/** Runs one input; returns a failure description, or null when nfx behaved. */
function check(run: () => void, input: string, needLocation: boolean): string | null {
  const t0 = performance.now();
  try {
    run();
  } catch (e) {
    if (!(e instanceof NftError)) return `crash (${(e as Error).name}: ${(e as Error).message}) on ${JSON.stringify(input)}`;
    if (needLocation && !e.loc) return `unlocated error "${e.message}" on ${JSON.stringify(input)}`;
  }
  const ms = performance.now() - t0;
  return ms > SLOW_MS ? `${ms.toFixed(0)} ms (a hang?) on ${JSON.stringify(input.slice(0, 200))}` : null;
}

test('fuzz: 100,000 mutated corpus rules never crash or hang; every refusal is located', { timeout: 600_000 }, (t) => {
  if (!fs.existsSync(corpus)) { t.skip(`corpus not found at ${corpus}`); return; }
  const rules = corpusRules();
  assert.ok(rules.length > 3000, `read ${rules.length} corpus rules`);
  const rnd = prng(SEED);
  const failures: string[] = [];
  let refused = 0;
  const N = 100_000;
  for (let n = 0; n < N && failures.length < 5; n++) {
    const { family, rule } = rules[Math.floor(rnd() * rules.length)]!;
    let s = rule;
    for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) s = mutate(s, rnd);
    const f = check(() => {
      try { compileRuleText(s, { family, table: 't', chain: 'c' }); } catch (e) { refused++; throw e; }
    }, `${family}: ${s}`, true);
    if (f) failures.push(f);
  }
  t.diagnostic(`nft-fuzz rules: ${N} inputs from ${rules.length} corpus rules (seed ${SEED}), ${refused} refused with a located error`);
  assert.deepEqual(failures, []);
});

test('fuzz: mutated real-world ruleset files never crash or hang; refusals name the file', { timeout: 600_000 }, (t) => {
  if (!fs.existsSync(realRulesets)) { t.skip(`real rulesets not found at ${realRulesets}`); return; }
  const files = fs.readdirSync(realRulesets).sort()
    .map((d) => path.join(realRulesets, d, 'ruleset.nft')).filter((f) => fs.existsSync(f))
    .map((f) => fs.readFileSync(f, 'utf8'))
    // The largest (a country's address list) would dominate the run; its grammar is in the others.
    .filter((text) => text.length < 200_000);
  assert.ok(files.length >= 30, `read ${files.length} ruleset files`);
  const rnd = prng(SEED ^ 0x5eed);
  const failures: string[] = [];
  const N = 3000;
  for (let n = 0; n < N && failures.length < 5; n++) {
    const text = files[Math.floor(rnd() * files.length)]!;
    // Mutate one line of the file, so the rest stays the realistic context around it.
    const lines = text.split('\n');
    const li = Math.floor(rnd() * lines.length);
    for (let k = 1 + Math.floor(rnd() * 2); k > 0; k--) lines[li] = mutate(lines[li]!, rnd);
    const s = lines.join('\n');
    const f = check(() => {
      try { compileFile(s, 'ruleset.nft'); } catch (e) {
        // A located error names the file it was read from, as nft's `ruleset.nft:3:5-9: Error:` does.
        if (e instanceof NftError && e.loc) assert.equal(e.loc.file, 'ruleset.nft');
        throw e;
      }
    }, `line ${li + 1}: ${lines[li]}`, false);
    if (f) failures.push(f);
  }
  t.diagnostic(`nft-fuzz files: ${N} mutated files from ${files.length} real rulesets (seed ${SEED})`);
  assert.deepEqual(failures, []);
});
