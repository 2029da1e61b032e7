/**
 * `nft [options] [-f FILE | CMD...]` over a virtual host (nftables src/main.c
 * + libnftables' nft_run_cmd_from_*): every command of one invocation is one
 * batch — compiled, committed atomically by the engine, and kept only when
 * the whole batch succeeds. Errors print as nft prints them: evaluation errors
 * with their location, kernel refusals as `Error: Could not process rule:
 * <strerror>` with the offending command underlined. `list` commands read
 * the committed state after the commit, as nft's do.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { type Clock, realClock } from '../netfilter/clock.js';
import { Ruleset, deserialize, serialize, tableKey } from '../netfilter/ruleset.js';
import { commitBatch } from '../netfilter/transaction.js';
import type { Command, Loc } from './ast.js';
import type { BatchOp } from '../netfilter/batch.js';
import { NftError, formatError } from './diagnostics.js';
import { parse } from './parser.js';
import { setInterfaces } from './datatypes.js';
import { BatchPlanner } from './command-batch.js';
import { parseJsonCommands } from './command-json-in.js';
import {
  type ListOptions, type ListScope, listChain, listChains, listFlowtable, listFlowtables, listObjects, listRuleset, listSet, listSets, listTable, listTables, scopedObjects, scopedTables, setListed, tablesOf,
} from './command-list.js';
import { chainListJson, chainsJson, flowtableJson, jsonDocument, objectsJson, setJson, setsJson, tableJson, tablesJson } from './command-json.js';
import { FAMILY_NUM, FAMILY_OF, OBJ_PLURAL, OBJ_TYPE, misspelt } from './command-names.js';

/** Where `nft` output goes and where its input comes from. */
export interface NftIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** `-f -`: standard input (a script's here-document, or the process's stdin). */
  readStdin?: () => string | Promise<string>;
  /** `-f FILE` and `include`: defaults to the file system. */
  readFile?: (path: string) => string;
}

/**
 * The slice of a host nft needs: its named sections (`sections.nftables` holds the ruleset)
 * and its links, whose names `iif`/`oif` resolve to ifindexes at rule-add time.
 */
export interface NftHostState { sections: Record<string, unknown>; links?: readonly { name: string; index: number }[] }

export interface NftOptions {
  check: boolean;
  json: boolean;
  handles: boolean;
  stateless: boolean;
  numeric: boolean;
  numericPriority: boolean;
  terse: boolean;
  echo: boolean;
  debugNetlink: boolean;
  file?: string;
  includePaths: string[];
  defines: string[];
  words: string[];
  /** The host's interface names in ifindex order after `lo` (lo 1, then 2, 3, ...). */
  interfaces?: readonly string[];
}

export const NFT_USAGE = 'Usage: nft [ options ] [ cmds... ]';

/** The section of a host's saved state that holds its nf_tables ruleset. */
export const NFT_SECTION = 'nftables';

/** The host's committed ruleset (an empty one when nft never ran on it). */
export function loadRuleset(host: NftHostState, clock: Clock = realClock): Ruleset {
  const s = host.sections[NFT_SECTION];
  if (s === undefined || s === null) return new Ruleset();
  return deserialize(typeof s === 'string' ? s : JSON.stringify(s), clock);
}

/** Puts the ruleset back into the host (the caller saves the host). */
export function storeRuleset(host: NftHostState, ruleset: Ruleset, clock: Clock = realClock): void {
  host.sections[NFT_SECTION] = JSON.parse(serialize(ruleset, clock)) as unknown;
}

/** Parses nft's options (getopt with `+`: options end at the first command word). Throws a message on a usage error. */
export function parseNftArgs(argv: string[]): NftOptions {
  const o: NftOptions = {
    check: false, json: false, handles: false, stateless: false, numeric: false, numericPriority: false, terse: false,
    echo: false, debugNetlink: false, includePaths: [], defines: [], words: [],
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { i++; break; }
    if (!a.startsWith('-') || a === '-') break;
    const long: Record<string, keyof NftOptions> = {
      '--check': 'check', '--json': 'json', '--handle': 'handles', '--stateless': 'stateless', '--numeric': 'numeric',
      '--numeric-priority': 'numericPriority', '--terse': 'terse', '--echo': 'echo',
    };
    if (long[a]) { (o[long[a]] as boolean) = true; continue; }
    if (a === '--file' || a === '--includepath' || a === '--define') {
      const v = argv[++i];
      if (v === undefined) throw new Error(`option '${a}' requires an argument`);
      if (a === '--file') o.file = v; else if (a === '--includepath') o.includePaths.push(v); else o.defines.push(v);
      continue;
    }
    if (a.startsWith('--debug')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i] ?? '';
      for (const lvl of v.split(',')) {
        if (lvl === 'netlink' || lvl === 'all') o.debugNetlink = true;
        else if (!['scanner', 'parser', 'eval', 'mnl', 'proto-ctx', 'segtree'].includes(lvl)) throw new Error(`invalid debug parameter \`${lvl}'`);
      }
      continue;
    }
    if (a.startsWith('--')) throw new Error(`unrecognized option '${a}'`);
    // Bundled short options: -nna, -f FILE, -fFILE.
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      const flag: Record<string, keyof NftOptions> = { c: 'check', j: 'json', a: 'handles', s: 'stateless', n: 'numeric', y: 'numericPriority', t: 'terse', e: 'echo' };
      if (flag[c]) { (o[flag[c]] as boolean) = true; continue; }
      if (c === 'p' || c === 'S' || c === 'N' || c === 'u' || c === 'T') continue; // numeric-protocol, service names, reverse DNS, guid, time: accepted, listings unchanged
      if (c === 'f' || c === 'I' || c === 'D') {
        const v = j + 1 < a.length ? a.slice(j + 1) : argv[++i];
        if (v === undefined) throw new Error(`option requires an argument -- '${c}'`);
        if (c === 'f') o.file = v; else if (c === 'I') o.includePaths.push(v); else o.defines.push(v);
        break;
      }
      throw new Error(`invalid option -- '${c}'`);
    }
  }
  o.words = argv.slice(i);
  return o;
}

export interface NftRunOptions {
  clock?: Clock;
}

/**
 * Runs one `nft` invocation against the host: on success the host's ruleset
 * section is updated (the caller persists the host); on any error nothing
 * changes. Returns nft's exit status (0, 1; 2 hmm never: usage errors are 1 in nft too).
 */
export async function runNft(argv: string[], host: NftHostState, io: NftIo, ro: NftRunOptions = {}): Promise<number> {
  let opts: NftOptions;
  try {
    opts = parseNftArgs(argv);
  } catch (e) {
    io.err(`nft: ${(e as Error).message}\n${NFT_USAGE}\n`);
    return 1;
  }
  const readFile = io.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  let src: string;
  let file: string;
  if (opts.file !== undefined) {
    if (opts.words.length) { io.err('Error: -f/--file cannot be combined with commands\n'); return 1; }
    if (opts.file === '-') {
      file = '/dev/stdin';
      src = io.readStdin ? await io.readStdin() : '';
    } else {
      file = opts.file;
      try { src = readFile(opts.file); } catch (e) {
        io.err(`Error: Could not process rule: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : String(e)}\n`);
        io.err(`Error: cannot open file ${opts.file}\n`);
        return 1;
      }
    }
  } else {
    if (!opts.words.length) { io.err(`${NFT_USAGE}\n`); return 1; }
    file = '<cmdline>';
    src = opts.words.join(' ');
  }
  const clock = ro.clock ?? realClock;
  const ruleset = loadRuleset(host, clock);
  if (host.links) opts.interfaces = [...host.links].sort((a, b) => a.index - b.index).map((l) => l.name).filter((n) => n !== 'lo');
  const status = executeNft(ruleset, src, file, opts, io, clock, readFile);
  if (status === 0 && !opts.check) storeRuleset(host, ruleset, clock);
  return status;
}

/**
 * The core, on an in-memory ruleset: parse, plan, commit (unless `-c`),
 * answer the queries. `ruleset` changes only when the batch commits.
 */
export function executeNft(ruleset: Ruleset, src: string, file: string, opts: NftOptions, io: NftIo, clock: Clock = realClock,
  readFile: (p: string) => string = (p) => readFileSync(p, 'utf8')): number {
  // Interface names resolve against this host's links (the compiler's ifindex table).
  setInterfaces(opts.interfaces ?? []);
  // nft_run_cmd_from_buffer() parses the command line with a newline after it: a command cut
  // short is "unexpected newline" there, where a file's is "unexpected end of file".
  if (file === '<cmdline>' && !src.endsWith('\n')) src += '\n';
  const sources = new Map<string, string>([[file, src]]);
  const baseDir = file === '<cmdline>' || file === '/dev/stdin' ? '.' : dirname(file);
  const include = (p: string): string | undefined => {
    const tries = isAbsolute(p) ? [p] : [join(baseDir, p), p, ...opts.includePaths.map((d) => join(d, p))];
    for (const t of tries) {
      try {
        const text = readFile(t);
        sources.set(p, text);
        sources.set(t, text);
        return text;
      } catch { /* next */ }
    }
    return undefined;
  };
  let parsed;
  try {
    const defines = new Map();
    for (const d of opts.defines) {
      const eq = d.indexOf('=');
      if (eq > 0) {
        const pd = parse(`define ${d.slice(0, eq)} = ${d.slice(eq + 1)}`, '<cmdline>');
        for (const [k, v] of pd.defines) defines.set(k, v);
      }
    }
    // libnftables: with -j the input is tried as JSON first, and read as nft syntax when it is not JSON.
    parsed = opts.json && src.trimStart().startsWith('{') ? { commands: parseJsonCommands(src), defines } : parse(src, file, { include, defines });
  } catch (e) {
    if (!(e instanceof NftError)) throw e;
    io.err(render(e, sources) + '\n');
    return 1;
  }
  const planner = new BatchPlanner(ruleset, parsed.defines, sources);
  const plan = planner.plan(parsed.commands);
  if (plan.errors.length) {
    for (const e of plan.errors) io.err(render(e, sources) + '\n');
    return 1;
  }
  if (opts.debugNetlink) {
    const lines = plan.ops.flatMap((p) => p.debug);
    if (lines.length) io.out(lines.join('\n') + '\n');
  }
  if (plan.ops.length) {
    // `-c` runs the batch on a copy: the kernel checks it and aborts.
    const target = opts.check ? deserialize(serialize(ruleset, clock), clock) : ruleset;
    const res = commitBatch(target, plan.ops.map((p) => p.op), clock);
    if (!res.ok) {
      // nft -c does not see every jump loop: the kernel finds some only on a real commit (KERNEL-NOTES).
      const errors = opts.check ? res.errors.filter((e) => e.errno !== 31 && e.errno !== 40) : res.errors;
      if (errors.length) {
        for (const be of errors) {
          const po = plan.ops[be.index];
          const loc = po ? blame(po.op, be.detail, po.loc, po.cmdLoc, sources) : undefined;
          io.err(render(new NftError('GENERIC', [be.message], loc), sources) + '\n');
        }
        return 1;
      }
    }
  }
  let status = 0;
  for (const q of plan.queries) {
    const json: JsonOut = { items: [], document: false };
    const r = query(ruleset, q, opts, clock, io, json, sources);
    if (r !== 0) status = r;
    // do_command_list_json: every list command prints its own document, an empty one too.
    else if (opts.json && json.document) io.out(jsonDocument(json.items));
  }
  return status;
}

/** What one query lists under `-j`; `document` once it took the JSON path (`list tables` still prints text). */
interface JsonOut { items: Record<string, unknown>[]; document: boolean }

/** The first whole-word occurrence of `word` on the located line, at or after the location's start. */
function wordLoc(sources: Map<string, string>, loc: Loc, word: string): Loc | undefined {
  const line = sources.get(loc.file)?.split('\n')[loc.line - 1];
  if (!line || !word) return undefined;
  let from = loc.first - 1;
  for (;;) {
    const i = line.indexOf(word, from);
    if (i < 0) return undefined;
    const before = line[i - 1];
    const after = line[i + word.length];
    const sep = (c: string | undefined): boolean => c === undefined || /[\s{};]/.test(c);
    if (sep(before) && sep(after)) return { file: loc.file, line: loc.line, first: i + 1, last: i + word.length };
    from = i + 1;
  }
}

/**
 * Which part of a command nft underlines for a kernel refusal (the netlink
 * attribute the extended ack points at): the missing table or chain name,
 * the jump target, the rule handle, the object's name.
 */
function blame(op: BatchOp, detail: string | undefined, loc: Loc | undefined, cmdLoc: Loc | undefined, sources: Map<string, string>): Loc | undefined {
  if (!loc) return undefined;
  const missing = /^(table|chain|set|object) (\S+) does not exist/.exec(detail ?? '');
  const named = (w: string | undefined): Loc => (w !== undefined ? wordLoc(sources, cmdLoc ?? loc, w) ?? loc : loc);
  // `delete ... handle N`: nft marks the handle's number.
  const handleAt = (handle: number): Loc => {
    const line = sources.get(loc.file)?.split('\n')[loc.line - 1] ?? '';
    const m = new RegExp(`handle\\s+(${handle})\\b`).exec(line.slice(loc.first - 1));
    if (!m) return loc;
    const first = loc.first + m.index + m[0].length - m[1]!.length;
    return { ...loc, first, last: first + m[1]!.length - 1 };
  };
  // An object deleted by its handle (no name given) that is not there.
  const byHandle = (name: string | undefined, handle: number | undefined, orElse: Loc): Loc =>
    name === undefined && handle !== undefined && missing?.[1] !== 'table' ? handleAt(handle) : orElse;
  switch (op.op) {
    case 'newrule': case 'delrule': {
      if (missing?.[1] === 'table') return named(op.table);
      if (missing?.[1] === 'chain' && missing[2] === op.chain) return named(op.chain);
      if (missing?.[1] === 'chain') {
        // A jump or goto to a missing chain: nft marks the chain's name.
        for (const v of ['jump', 'goto']) { const l = wordLoc(sources, loc, `${v} ${missing[2]}`); if (l) return { ...l, first: l.first + v.length + 1 }; }
        return loc;
      }
      if (op.op === 'delrule' && op.handle !== undefined) return handleAt(op.handle);
      return loc;
    }
    case 'newchain':
      return missing?.[1] === 'table' ? named(op.table) : named(op.chain);
    case 'delchain':
      return byHandle(op.chain, op.handle, missing?.[1] === 'table' ? named(op.table) : named(op.chain));
    case 'newset': {
      if (missing?.[1] === 'table') return named(op.set.table);
      if (op.set.name.includes('%d')) {
        // An anonymous set's element refused: nft marks that element's key.
        const line = sources.get(loc.file)?.split('\n')[loc.line - 1] ?? '';
        let at = -1;
        if (missing?.[1] === 'chain') for (const v of ['jump', 'goto']) { const l = wordLoc(sources, loc, `${v} ${missing[2]}`); if (l) at = l.first - 1; }
        if (at >= 0) {
          const colon = line.lastIndexOf(':', at);
          const start = Math.max(line.lastIndexOf('{', colon), line.lastIndexOf(',', colon)) + 1;
          const key = line.slice(start, colon);
          const first = start + (key.length - key.trimStart().length);
          const last = start + key.trimEnd().length - 1;
          if (colon > 0 && last >= first) return { ...loc, first: first + 1, last: last + 1 };
        }
        return loc;
      }
      return named(op.set.name);
    }
    case 'newobj': case 'newflowtable':
      return missing?.[1] === 'table' ? named(op.table) : named(op.name);
    case 'newtable':
      return named(op.table);
    case 'deltable':
      return op.table === undefined && op.handle !== undefined ? handleAt(op.handle) : named(op.table);
    case 'delset':
      return byHandle(op.set, op.handle, missing?.[1] === 'table' ? named(op.table) : named(op.set));
    case 'newsetelem': case 'delsetelem':
      return missing?.[1] === 'table' ? named(op.table) : missing?.[1] === 'set' ? named(op.set) : loc;
    case 'delobj': case 'delflowtable':
      return byHandle(op.name, op.handle, missing?.[1] === 'table' ? named(op.table) : named(op.name));
    default:
      return loc;
  }
}

/** formatError, with the marker line keeping the source line's tabs as nft's does (erec_print). */
function render(e: NftError, sources: Map<string, string>): string {
  // JSON input has no source line to show.
  if (e.loc?.file === '<json>') return formatError(new NftError(e.id, e.args, undefined, [], e.hint), sources);
  const lines = formatError(e, sources).split('\n');
  if (lines.length === 3) {
    const src = lines[1]!;
    lines[2] = [...lines[2]!].map((c, i) => (c === ' ' && src[i] === '\t' ? '\t' : c)).join('');
  }
  return lines.join('\n');
}

/** `word` located in the command, searched for after `after` when given (a name that equals its table's). */
function wordInCommand(q: Command, sources: Map<string, string>, word: string, after?: string): Loc | undefined {
  const from = after !== undefined ? wordLoc(sources, q.loc, after) : undefined;
  return wordLoc(sources, from ? { ...q.loc, first: from.last + 1 } : q.loc, word);
}

function noSuch(q: Command, sources: Map<string, string>, io: NftIo, word?: string, after?: string, hint?: string): number {
  const loc = word !== undefined ? wordInCommand(q, sources, word, after) ?? q.loc : q.loc;
  io.err(render(new NftError('GENERIC', [`No such file or directory${hint ? `; did you mean ${hint}?` : ''}`], loc), sources) + '\n');
  return 1;
}

/** table_lookup_fuzzy's suggestion for a missing table: `table ‘t’ in family ip`. */
function tableHint(r: Ruleset, name: string): string | undefined {
  const near = misspelt(name, tablesOf(r).map((t) => [t.name, t] as const));
  return near && `table ‘${near.name}’ in family ${FAMILY_OF[near.family]}`;
}

/**
 * bison's "syntax error, unexpected X" for a list command the parser let through: at `word`
 * when given, else just past the command's end (where nft sees the newline).
 */
function syntaxError(q: Command, sources: Map<string, string>, io: NftIo, what: string, word?: string, after?: string): number {
  const end = q.loc.last + 1;
  const loc = word !== undefined ? wordInCommand(q, sources, word, after) ?? q.loc : { ...q.loc, first: end, last: end };
  io.err(render(new NftError('UNEXPECTED', [what], loc), sources) + '\n');
  return 1;
}

/** `list`, `reset` and the other read commands, after the commit. */
function query(r: Ruleset, q: Command, opts: NftOptions, clock: Clock, io: NftIo, jout: JsonOut, sources: Map<string, string>): number {
  const lo: ListOptions = {
    handles: opts.handles, stateless: opts.stateless, numeric: opts.numeric, numericPriority: opts.numericPriority, terse: opts.terse, now: clock.nowMs(),
    warn: (text) => io.err(text),
  };
  const t = q.target;
  const json = jout.items;
  jout.document = opts.json;
  const emit = (text: string, tables = tablesOf(r)): void => {
    if (opts.json) { for (const tb of tables) json.push(...tableJson(tb, lo)); return; }
    io.out(text);
  };
  if (q.verb === 'list') {
    switch (t.obj) {
      case 'ruleset': {
        const fam = t.family ? FAMILY_NUM[t.family] : undefined;
        emit(listRuleset(r, lo, fam), tablesOf(r, fam));
        return 0;
      }
      case 'table': {
        const tb = r.tables.get(tableKey(FAMILY_NUM[t.spec.family], t.spec.table));
        if (!tb) return noSuch(q, sources, io, t.spec.table);
        emit(listTable(tb, lo), [tb]);
        return 0;
      }
      case 'chain': {
        const tb = r.tables.get(tableKey(FAMILY_NUM[t.spec.family], t.spec.table));
        const ch = t.spec.chain ? tb?.chains.get(t.spec.chain) : undefined;
        if (!tb || !ch) return noSuch(q, sources, io, tb ? t.spec.chain : t.spec.table);
        if (opts.json) json.push(...chainListJson(tb, ch, lo)); else io.out(listChain(tb, ch, lo));
        return 0;
      }
      case 'set': case 'map': {
        const tb = r.tables.get(tableKey(FAMILY_NUM[t.spec.family], t.spec.table));
        const s = t.spec.name ? tb?.sets.get(t.spec.name) : undefined;
        if (!tb || !s) return noSuch(q, sources, io, tb ? t.spec.name : t.spec.table);
        // cmd_evaluate_list: `list set` of a map, or `list map` of a set, is ENOENT at the name.
        if (!setListed(s.decl.flags, t.obj === 'map' ? 'maps' : 'sets')) return noSuch(q, sources, io, t.spec.name, t.spec.table);
        if (opts.json) json.push(setJson(tb, s, lo)); else io.out(listSet(tb, s, lo));
        return 0;
      }
      case 'flowtable': {
        // flowtable_spec needs the name: bison stops at the end of the line ("expecting string").
        if (t.spec.name === undefined) return syntaxError(q, sources, io, 'newline, expecting string');
        const tb = r.tables.get(tableKey(FAMILY_NUM[t.spec.family], t.spec.table));
        if (!tb) return noSuch(q, sources, io, t.spec.table);
        const ft = tb.flowtables.get(t.spec.name);
        // cmd_evaluate_list → flowtable_not_found: the cache holds only the flowtable asked for,
        // so 1.0.6 never finds a "did you mean" here; the name is underlined.
        if (!ft) return noSuch(q, sources, io, t.spec.name, t.spec.table);
        if (opts.json) json.push(flowtableJson(tb, ft)); else io.out(listFlowtable(tb, ft, lo));
        return 0;
      }
      case 'other': {
        const [what, ...rest] = t.words;
        const fam = rest[0] && rest[0] in FAMILY_NUM ? FAMILY_NUM[rest[0] as keyof typeof FAMILY_NUM] : undefined;
        if (what === 'meter') {
          // cmd_evaluate_list CMD_OBJ_METER: the table, then a set that is a meter; either miss
          // is ENOENT at the name, with no "did you mean" (measured with 1.0.6).
          const [family, table, name] = rest as [keyof typeof FAMILY_NUM, string, string];
          const tb = r.tables.get(tableKey(FAMILY_NUM[family], table));
          const s = tb?.sets.get(name);
          if (!tb) return noSuch(q, sources, io, table, 'meter');
          if (!s || !setListed(s.decl.flags, 'meters')) return noSuch(q, sources, io, name, table);
          if (opts.json) json.push(setJson(tb, s, lo)); else io.out(listSet(tb, s, lo));
          return 0;
        }
        if (what === 'flowtables') {
          if (opts.json) { for (const tb of tablesOf(r, fam)) for (const f of tb.flowtables.values()) json.push(flowtableJson(tb, f)); } else io.out(listFlowtables(r, lo, fam));
          return 0;
        }
        // do_command_list_json: `-j list tables` prints table objects; the other plurals print
        // only the objects they list, never their tables.
        if (what === 'tables') { if (opts.json) json.push(...tablesJson(r, fam)); else io.out(listTables(r, fam)); return 0; }
        if (what === 'chains') { if (opts.json) json.push(...chainsJson(r, fam)); else io.out(listChains(r, lo, fam)); return 0; }
        if (what === 'ct') rest.shift();
        // `SETS TABLE table_spec`, `COUNTERS TABLE table_spec` ...: one table.
        // table_spec: the family may be left out (ip), as in `list ct helpers table t`.
        const scope: ListScope = rest[0] === 'table' && rest.length === 3 && rest[1]! in FAMILY_NUM
          ? { family: FAMILY_NUM[rest[1] as keyof typeof FAMILY_NUM], table: rest[2] }
          : rest[0] === 'table' && rest.length === 2 ? { family: FAMILY_NUM.ip, table: rest[1] } : { family: fam };
        if (scope.table !== undefined && !scopedTables(r, scope).length) return noSuch(q, sources, io, scope.table, 'table', tableHint(r, scope.table));
        if (what === 'sets' || what === 'maps' || what === 'meters') {
          if (opts.json) json.push(...setsJson(r, lo, what, scope)); else io.out(listSets(r, lo, what, scope));
          return 0;
        }
        const type = OBJ_PLURAL[what === 'ct' ? `ct ${t.words[1] ?? ''}` : what ?? ''];
        if (type !== undefined) { if (opts.json) json.push(...objectsJson(r, type, scope)); else io.out(listObjects(r, type, lo, scope)); return 0; }
        break;
      }
      case 'object': {
        const type = OBJ_TYPE[t.objType];
        const tb = r.tables.get(tableKey(FAMILY_NUM[t.spec.family], t.spec.table));
        if (type === undefined) return noSuch(q, sources, io);
        if (!tb) return noSuch(q, sources, io, t.spec.table, undefined, tableHint(r, t.spec.table));
        const scope: ListScope = { family: tb.family, table: tb.name, name: t.spec.name };
        // cmd_evaluate_list_obj → obj_not_found: the suggestion comes from every table's objects, of any type.
        if (!scopedObjects(tb, type, scope).length) {
          const near = misspelt(t.spec.name ?? '', tablesOf(r).flatMap((x) => [...x.objects.values()].map((ob) => [ob.name, [x, ob.name]] as const)));
          return noSuch(q, sources, io, t.spec.name, t.spec.table, near && `obj ‘${near[1]}’ in table ${FAMILY_OF[near[0].family]} ‘${near[0].name}’`);
        }
        if (opts.json) json.push(...objectsJson(r, type, scope)); else io.out(listObjects(r, type, lo, scope));
        return 0;
      }
      default: break;
    }
  }
  if (q.verb === 'reset' && t.obj === 'other' && (t.words[0] === 'counters' || t.words[0] === 'quotas')) {
    const type = t.words[0] === 'counters' ? 1 : 2;
    const fam = t.words[1] && t.words[1] in FAMILY_NUM ? FAMILY_NUM[t.words[1] as keyof typeof FAMILY_NUM] : undefined;
    if (opts.json) json.push(...objectsJson(r, type, { family: fam })); else io.out(listObjects(r, type, lo, { family: fam }));
    for (const tb of tablesOf(r, fam)) {
      for (const o of tb.objects.values()) {
        if (o.type !== type || !o.expr) continue;
        if (o.expr.type === 'counter') o.expr = { ...o.expr, packets: 0, bytes: 0 };
        if (o.expr.type === 'quota') o.expr = { ...o.expr, consumed: 0 };
      }
    }
    r.runtimeCache = undefined;
    return 0;
  }
  io.err(render(new NftError('GENERIC', [`${q.verb} ${t.obj === 'other' ? t.words.join(' ') : t.obj}: not supported by nfx yet`], q.loc), sources) + '\n');
  return 1;
}
