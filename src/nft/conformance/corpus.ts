/**
 * Reads the nftables tests/py corpus (see shared/conformance/nftables-py/
 * FORMAT.md) and runs nfx's compiler over it, as upstream's nft-test.py
 * does against nft: every `;ok`/`;fail` rule in every chain of every table
 * of its file, with the expected bytecode from the payload files.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Family } from '../ast.js';
import { compileRuleAst, compileRuleText, debugNetlinkLines, namedSetFromTypes, type NamedSet } from '../index.js';
import { jsonToRule } from '../json.js';
import { listingToJson } from '../json-out.js';

/** JSON with object keys sorted, arrays kept in order (FORMAT.md §6). */
export function canonicalJson(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canonicalJson).join(',')}]`;
  if (x && typeof x === 'object') return `{${Object.keys(x).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((x as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(x);
}
import { NftError } from '../diagnostics.js';
import { listRule } from '../print.js';

/** FORMAT.md §5: canonicalize (`\s+}` → `}`), then compare; the first set's elements are unordered. */
export function listingEqual(want: string, got: string): boolean {
  const canon = (x: string): string => x.trim().replace(/\s+}/g, '}');
  const a = canon(want);
  const b = canon(got);
  if (a === b) return true;
  const ia = a.indexOf('{');
  const ib = b.indexOf('{');
  if (ia < 0 || ib < 0 || a.slice(0, ia) !== b.slice(0, ib)) return false;
  const ja = a.indexOf('}', ia);
  const jb = b.indexOf('}', ib);
  if (ja < 0 || jb < 0 || a.slice(ja) !== b.slice(jb)) return false;
  const els = (x: string): string => x.replace(/\s/g, '').split(',').sort().join(',');
  return els(a.slice(ia + 1, ja)) === els(b.slice(ib + 1, jb));
}

export interface CorpusRule { file: string; line: number; text: string; ok: boolean; listed?: string }
export interface CorpusTable { family: Family; table: string; chains: string[] }

/** Payload entries of one file: key → body lines (first entry wins). */
export function readPayloads(file: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  if (!fs.existsSync(file)) return m;
  const jsonEntries = readPayloads(file + '.json');
  const jsonOutput = readPayloads(file + '.json.output');
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('#')) continue;
    const key = lines[i]!.trim().slice(2);
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() !== '') body.push(lines[j++]!);
    if (!m.has(key)) m.set(key, body);
    i = j - 1;
  }
  return m;
}

export interface CheckResult { pass: number; total: number; failures: string[] }
export interface Scoreboard { okfail: CheckResult; bytecode: CheckResult; setlines: CheckResult; relisted: CheckResult; listing: CheckResult; jsonBytecode: CheckResult; jsonListing: CheckResult }

const newCheck = (): CheckResult => ({ pass: 0, total: 0, failures: [] });

/** The `[ ... ]` lines and the set of element items, as FORMAT.md §4.4 compares them. */
export function payloadShape(lines: string[]): { exprs: string[]; elements: string[] } {
  const exprs = lines.filter((l) => l.startsWith('  [ ')).map((l) => l.trim());
  const elements: string[] = [];
  for (const l of lines) {
    if (!l.includes('element ')) continue;
    for (const m of l.matchAll(/element .*?\[end\]/g)) elements.push(m[0].replace(/\s+/g, ' '));
  }
  elements.sort();
  return { exprs, elements };
}

/**
 * Bytecode the real nft 1.0.6 binary prints for a listed form, where that differs from the
 * corpus payload of the original rule (`counter packets 2 bytes 1` lists as `counter`, which
 * compiles to a zeroed counter): keyed `FAMILY|LISTED`. FORMAT.md: the binary is the truth.
 */
export type ListedTruth = Readonly<Record<string, readonly string[]>>;

export function runCorpus(root: string, filter?: (file: string) => boolean, listedTruth: ListedTruth = {}): Scoreboard {
  const sb: Scoreboard = { okfail: newCheck(), bytecode: newCheck(), setlines: newCheck(), relisted: newCheck(), listing: newCheck(), jsonBytecode: newCheck(), jsonListing: newCheck() };
  // Upstream runs the corpus with TZ=UTC-2 (local time is UTC+2) for the time-based rules.
  const savedTz = process.env['TZ'];
  process.env['TZ'] = 'UTC-2';
  try { runAll(root, sb, filter, listedTruth); } finally {
    if (savedTz === undefined) delete process.env['TZ']; else process.env['TZ'] = savedTz;
  }
  return sb;
}

function runAll(root: string, sb: Scoreboard, filter: ((file: string) => boolean) | undefined, listedTruth: ListedTruth): void {
  for (const dir of fs.readdirSync(root).sort()) {
    const d = path.join(root, dir);
    if (!fs.statSync(d).isDirectory()) continue;
    for (const f of fs.readdirSync(d).filter((x) => x.endsWith('.t')).sort()) {
      const rel = `${dir}/${f}`;
      if (filter && !filter(rel)) continue;
      runFile(path.join(d, f), rel, sb, listedTruth);
    }
  }
}

function runFile(file: string, rel: string, sb: Scoreboard, listedTruth: ListedTruth): void {
  const tables: CorpusTable[] = [];
  const sets = new Map<string, NamedSet>();
  const hooks = new Map<string, string>();
  const objects = new Map<string, string>();
  const generic = readPayloads(file + '.payload');
  const perFamily = new Map<string, Map<string, string[]>>();
  const payloadFor = (family: string, key: string): string[] | undefined => {
    if (!perFamily.has(family)) perFamily.set(family, readPayloads(`${file}.payload.${family}`));
    return perFamily.get(family)!.get(key) ?? generic.get(key);
  };
  const jsonEntries = readPayloads(file + '.json');
  const jsonOutput = readPayloads(file + '.json.output');
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, idx) => {
    if (line[0] === ':') {
      const m = /^:([^;]+);.*\bhook (\S+)/.exec(line);
      if (m) hooks.set(m[1]!, m[2]!);
      return;
    }
    if (line.trim() === '' || line[0] === '#' || line[0] === '-') return;
    if (line[0] === '*') {
      const [fam, table, chains] = line.slice(1).split(';');
      tables.push({ family: fam as Family, table: table!, chains: chains!.split(',') });
      return;
    }
    if (line[0] === '!') {
      const m = /^!(\S+) type (.+?)(?: timeout \S+)?(?: flags (\S+))?;(ok|fail)/.exec(line);
      if (m && m[4] === 'ok') {
        try { sets.set(m[1]!, namedSetFromTypes(m[2]!.split(' . ').map((s) => s.trim()), false, m[3] ? m[3].split(',') : [])); } catch { /* unknown type */ }
      }
      return;
    }
    if (line[0] === '%') {
      const m = /^%(\S+) type (ct helper|ct timeout|ct expectation|[^\s;]+)/.exec(line);
      const res = line.includes('}') ? line.slice(line.lastIndexOf('}') + 2) : line.split(';')[1];
      if (m && res?.trim().startsWith('ok')) objects.set(m[1]!, m[2]!);
      return;
    }
    if (line[0] === '?') return;
    const parts = line.split(';');
    if (parts.length < 2) return;
    const text = parts[0]!;
    const ok = parts[1]!.trimEnd() === 'ok';
    const key = text.trim();
    for (const t of tables) {
      for (const chain of t.chains) {
        let lines: string[] | undefined;
        let error: string | undefined;
        let listing: string | undefined;
        try {
          const c = compileRuleText(text, { family: t.family, table: t.table, chain, sets, hook: hooks.get(chain), objects });
          lines = debugNetlinkLines(c, t.family, t.table, chain);
          const named = new Map([...sets].map(([n, v]) => [n, v.keyBits / 8]));
          try { listing = listRule(c.exprs, c.sets, t.family, undefined, named) + (c.comment !== undefined ? ` comment "${c.comment}"` : ''); } catch (e) { listing = `CRASH ${(e as Error).message}`; }
        } catch (e) {
          error = e instanceof NftError ? e.message : `CRASH ${(e as Error).stack?.split('\n').slice(0, 3).join(' | ')}`;
        }
        const where = `${rel}:${idx + 1} [${t.family}/${chain}] ${key}`;
        sb.okfail.total++;
        if ((lines !== undefined) === ok) sb.okfail.pass++;
        else sb.okfail.failures.push(`${where}: ${ok ? `rejected: ${error}` : 'accepted'}`);
        if (!ok) continue;
        sb.listing.total++;
        const wantList = (parts[2]?.trim() || text).trim();
        if (listing !== undefined && listingEqual(wantList, listing)) sb.listing.pass++;
        else sb.listing.failures.push(`${where}\n  want: ${wantList}\n  got:  ${listing ?? 'rejected'}`);
        const expected = payloadFor(t.family, key);
        if (!expected) continue;
        sb.bytecode.total++;
        const want = payloadShape(expected);
        if (lines) {
          const got = payloadShape(lines);
          if (got.exprs.join('\n') === want.exprs.join('\n')) sb.bytecode.pass++;
          else sb.bytecode.failures.push(`${where}\n  want: ${want.exprs.join('\n        ')}\n  got:  ${got.exprs.join('\n        ')}`);
          if (want.elements.length) {
            sb.setlines.total++;
            if (got.elements.join('|') === want.elements.join('|')) sb.setlines.pass++;
            else sb.setlines.failures.push(`${where}\n  want: ${want.elements.join(' ')}\n  got:  ${got.elements.join(' ')}`);
          }
        } else {
          sb.bytecode.failures.push(`${where}: rejected: ${error}`);
        }
        // FORMAT.md §6: the JSON form must compile to the same bytecode.
        const jsonBody = jsonEntries.get(key);
        const jsonWant = jsonOutput.get(key) ?? jsonBody;
        if (jsonWant) {
          sb.jsonListing.total++;
          let got: string | undefined;
          try {
            if (listing !== undefined && !listing.startsWith('CRASH')) {
              got = canonicalJson(listingToJson(listing, { family: t.family, sets, defines: new Map(), hook: hooks.get(chain), objects }));
            }
          } catch (e) { got = `error: ${(e as Error).message}`; }
          let want: string;
          try { want = canonicalJson(JSON.parse(jsonWant.map((l) => l.trim()).join(''))); } catch { want = 'unparsable'; }
          if (got === want) sb.jsonListing.pass++;
          else sb.jsonListing.failures.push(`${where} (json listing)\n  want: ${want}\n  got:  ${got}`);
        }
        if (jsonBody) {
          sb.jsonBytecode.total++;
          try {
            const rule = jsonToRule(JSON.parse(jsonBody.map((l) => l.trim()).join('')));
            const c3 = compileRuleAst(rule, { family: t.family, table: t.table, chain, sets, hook: hooks.get(chain), objects });
            const got3 = payloadShape(debugNetlinkLines(c3, t.family, t.table, chain));
            if (got3.exprs.join('\n') === want.exprs.join('\n')) sb.jsonBytecode.pass++;
            else sb.jsonBytecode.failures.push(`${where} (json)\n  want: ${want.exprs.join('\n        ')}\n  got:  ${got3.exprs.join('\n        ')}`);
          } catch (e) {
            sb.jsonBytecode.failures.push(`${where} (json): rejected: ${(e as Error).message}`);
          }
        }
        // FORMAT.md §3 step 5: the listed form (field 3) must compile to the same bytecode.
        const listed = parts[2]?.trim();
        if (listed !== undefined && listed !== '') {
          sb.relisted.total++;
          try {
            const c2 = compileRuleText(listed, { family: t.family, table: t.table, chain, sets, hook: hooks.get(chain), objects });
            const got2 = payloadShape(debugNetlinkLines(c2, t.family, t.table, chain));
            const truth = listedTruth[`${t.family}|${listed}`] ?? want.exprs;
            if (got2.exprs.join('\n') === truth.join('\n')) sb.relisted.pass++;
            else sb.relisted.failures.push(`${where} (listed: ${listed})\n  want: ${truth.join('\n        ')}\n  got:  ${got2.exprs.join('\n        ')}`);
          } catch (e) {
            sb.relisted.failures.push(`${where} (listed: ${listed}): rejected: ${(e as Error).message}`);
          }
        }
        if (!lines) {
          if (want.elements.length) sb.setlines.total++;
        }
      }
    }
  });
}
