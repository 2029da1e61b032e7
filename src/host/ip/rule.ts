/**
 * `ip rule add|del|show|flush` (ip/iprule.c) and `ip neigh add|replace|change|del|show|flush`
 * (ip/ipneigh.c).
 */
import { formatAddr, formatMac, parseMac, type Family } from '../inet.js';
import { extack } from '../errors.js';
import { defaultRulePref, neighAdd, neighDel, ruleAdd, ruleDel, type RuleDelSpec } from '../rules.js';
import type { Host, Neigh, NudState, Rule, RuleAction } from '../types.js';
import {
  Args, fail, findDev, json, matches, parseInetAddr, parseInetPrefix, parseTable, parseU32, tableName,
  type IpIo, type IpOptions,
} from './util.js';
import { linkByIndex } from '../links.js';

export function ipRule(host: Host, argv: string[], opts: IpOptions, io: IpIo): number {
  const a = new Args(argv);
  const cmd = a.done ? 'show' : a.take();
  // iprule_modify(): a rule needs at least one selector or action word (exit 1, not 255).
  if (matches(cmd, 'add')) { if (a.done) throw fail('"ip rule add" requires arguments.'); return ruleModify(host, a, opts, true); }
  if (matches(cmd, 'delete')) { if (a.done) throw fail('"ip rule del" requires arguments.'); return ruleModify(host, a, opts, false); }
  if (matches(cmd, 'list') || matches(cmd, 'show') || matches(cmd, 'lst')) return ruleShow(host, opts, io);
  if (matches(cmd, 'flush')) {
    const f = opts.family ?? 4;
    host.rules = host.rules.filter((r) => r.family !== f || r.priority === 0);
    return 0;
  }
  throw fail(`Command "${cmd}" is unknown, try "ip rule help".`, 255);
}

function ruleModify(host: Host, a: Args, opts: IpOptions, add: boolean): number {
  let family: Family | undefined = opts.family;
  const r: Partial<Rule> = {};
  let action: RuleAction | undefined;
  while (!a.done) {
    const w = a.take();
    if (w === 'not') { r.not = true; continue; }
    if (w === 'from') {
      const v = a.value();
      if (v !== 'all') { const p = parseInetPrefix(v, family); r.src = p.addr; r.srcLen = p.plen; family ??= p.family; }
      continue;
    }
    if (w === 'to') {
      const v = a.value();
      if (v !== 'all') { const p = parseInetPrefix(v, family); r.dst = p.addr; r.dstLen = p.plen; family ??= p.family; }
      continue;
    }
    if (matches(w, 'preference') || matches(w, 'order') || matches(w, 'priority')) {
      const v = a.value();
      const n = parseU32(v);
      if (n === undefined) throw fail(`Error: argument "${v}" is wrong: preference value is invalid`);
      r.priority = n;
      continue;
    }
    if (w === 'tos' || w === 'dsfield') { r.tos = parseU32(a.value()) ?? 0; continue; }
    if (w === 'fwmark') {
      const v = a.value();
      const [m, k] = v.split('/');
      const mark = parseU32(m ?? '');
      const mask = k === undefined ? 0xffffffff : parseU32(k);
      if (mark === undefined || mask === undefined) throw fail(`Error: argument "${v}" is wrong: fwmark value is invalid`);
      r.fwmark = mark; r.fwmask = mask;
      continue;
    }
    if (w === 'iif' || w === 'dev') { r.iif = a.value(); continue; }
    if (w === 'oif') { r.oif = a.value(); continue; }
    if (matches(w, 'lookup') || matches(w, 'table')) {
      const v = a.value();
      const t = parseTable(v);
      if (t === undefined) throw fail(`Error: argument "${v}" is wrong: invalid table ID`);
      r.table = t;
      action ??= 'lookup';
      continue;
    }
    if (w === 'suppress_prefixlength') { r.suppressPrefixlen = parseU32(a.value()) ?? -1; continue; }
    if (w === 'goto') { action = 'goto'; r.target = parseU32(a.value()); continue; }
    if (w === 'nop') { action = 'nop'; continue; }
    if (w === 'blackhole' || w === 'unreachable' || w === 'prohibit') { action = w; continue; }
    if (w === 'type') {
      const v = a.value();
      if (v === 'blackhole' || v === 'unreachable' || v === 'prohibit' || v === 'nop') { action = v; continue; }
      throw fail(`Error: argument "${v}" is wrong: Failed to parse rule type`);
    }
    throw fail(`Error: argument "${w}" is wrong: Failed to parse rule type`);
  }
  family ??= 4;
  if (!add) {
    const d: RuleDelSpec = { family };
    for (const k of Object.keys(r) as (keyof Rule)[]) (d as Record<string, unknown>)[k] = r[k];
    if (action) d.action = action;
    ruleDel(host, d);
    return 0;
  }
  if (r.tos !== undefined && r.tos & 3) throw extack('Invalid tos');
  const rule: Rule = {
    family, priority: r.priority ?? defaultRulePref(host, family), not: r.not ?? false, srcLen: r.srcLen ?? 0,
    dstLen: r.dstLen ?? 0, tos: r.tos ?? 0, action: action ?? 'lookup', table: r.table ?? (action === undefined || action === 'lookup' ? 254 : 0),
    suppressPrefixlen: r.suppressPrefixlen ?? -1,
  };
  if (r.src) rule.src = r.src;
  if (r.dst) rule.dst = r.dst;
  if (r.iif !== undefined) rule.iif = r.iif;
  if (r.oif !== undefined) rule.oif = r.oif;
  if (r.fwmark !== undefined) { rule.fwmark = r.fwmark; rule.fwmask = r.fwmask ?? 0xffffffff; }
  if (r.target !== undefined) rule.target = r.target;
  ruleAdd(host, rule);
  return 0;
}

function prefixText(a: Uint8Array | undefined, len: number): string {
  if (!a) return 'all';
  return len === a.length * 8 ? formatAddr(a) : `${formatAddr(a)}/${len}`;
}

function detached(host: Host, name: string): boolean {
  return !host.links.some((l) => l.name === name);
}

/** print_rule(): `PRIO:\tfrom SRC [to DST] [tos] [fwmark] [iif] [oif] ACTION`. */
export function ruleText(host: Host, r: Rule): string {
  let s = `${r.priority}:\t`;
  if (r.not) s += 'not ';
  s += `from ${prefixText(r.src, r.srcLen)} `;
  if (r.dst) s += `to ${prefixText(r.dst, r.dstLen)} `;
  if (r.tos) s += `tos 0x${r.tos.toString(16)} `;
  if (r.fwmark !== undefined) {
    s += `fwmark 0x${r.fwmark.toString(16)}`;
    s += r.fwmask !== 0xffffffff ? `/0x${r.fwmask!.toString(16)} ` : ' ';
  }
  if (r.iif !== undefined) s += `iif ${r.iif} ${detached(host, r.iif) ? '[detached] ' : ''}`;
  if (r.oif !== undefined) s += `oif ${r.oif} ${detached(host, r.oif) ? '[detached] ' : ''}`;
  switch (r.action) {
    case 'lookup': s += `lookup ${tableName(r.table)} `; break;
    case 'goto': s += `goto ${r.target} `; break;
    default: s += `${r.action} `;
  }
  if (r.suppressPrefixlen >= 0) s += `suppress_prefixlength ${r.suppressPrefixlen} `;
  return s.trimEnd();
}

export function ruleJson(host: Host, r: Rule): Record<string, unknown> {
  const o: Record<string, unknown> = { priority: r.priority };
  if (r.not) o['not'] = null;
  o['src'] = r.src ? formatAddr(r.src) : 'all';
  if (r.src && r.srcLen !== r.src.length * 8) o['srclen'] = r.srcLen;
  if (r.dst) { o['dst'] = formatAddr(r.dst); if (r.dstLen !== r.dst.length * 8) o['dstlen'] = r.dstLen; }
  if (r.tos) o['tos'] = `0x${r.tos.toString(16)}`;
  if (r.fwmark !== undefined) {
    o['fwmark'] = `0x${r.fwmark.toString(16)}`;
    if (r.fwmask !== 0xffffffff) o['fwmask'] = `0x${r.fwmask!.toString(16)}`;
  }
  if (r.iif !== undefined) { o['iif'] = r.iif; if (detached(host, r.iif)) o['iif_detached'] = null; }
  if (r.oif !== undefined) { o['oif'] = r.oif; if (detached(host, r.oif)) o['oif_detached'] = null; }
  if (r.action === 'lookup') o['table'] = tableName(r.table);
  else if (r.action === 'goto') { o['action'] = 'goto'; o['target'] = r.target; }
  else o['action'] = r.action;
  if (r.suppressPrefixlen >= 0) o['suppress_prefixlen'] = r.suppressPrefixlen;
  return o;
}

function ruleShow(host: Host, opts: IpOptions, io: IpIo): number {
  const fam = opts.family ?? 4;
  const rules = host.rules.filter((r) => r.family === fam);
  if (opts.json) io.out(json(rules.map((r) => ruleJson(host, r))) + '\n');
  else for (const r of rules) io.out(ruleText(host, r) + '\n');
  return 0;
}

// ---------------------------------------------------------------------------
// ip neigh

const NUD: Record<string, NudState> = {
  permanent: 'PERMANENT', reachable: 'REACHABLE', stale: 'STALE', noarp: 'NOARP', delay: 'DELAY', probe: 'PROBE',
  failed: 'FAILED', incomplete: 'INCOMPLETE',
};

export function ipNeigh(host: Host, argv: string[], opts: IpOptions, io: IpIo): number {
  const a = new Args(argv);
  const cmd = a.done ? 'show' : a.take();
  if (matches(cmd, 'add')) return neighModify(host, a, opts, 'add');
  if (matches(cmd, 'change') || cmd === 'chg') return neighModify(host, a, opts, 'change');
  if (matches(cmd, 'replace')) return neighModify(host, a, opts, 'replace');
  if (matches(cmd, 'delete')) return neighModify(host, a, opts, 'del');
  if (matches(cmd, 'show') || matches(cmd, 'list') || matches(cmd, 'lst')) return neighShow(host, a, opts, io, false);
  if (matches(cmd, 'flush')) {
    // ipneigh.c do_show_or_flush(): flushing everything takes an explicit selector.
    if (a.done) throw fail('Flush requires arguments.');
    return neighShow(host, a, opts, io, true);
  }
  throw fail(`Command "${cmd}" is unknown, try "ip neigh help".`, 255);
}

function neighModify(host: Host, a: Args, opts: IpOptions, mode: 'add' | 'change' | 'replace' | 'del'): number {
  let dst: Uint8Array | undefined, devName: string | undefined, lladdr: Uint8Array | undefined;
  let state: NudState = 'PERMANENT';
  let router = false;
  while (!a.done) {
    const w = a.take();
    if (w === 'lladdr') {
      const v = a.value();
      const m = parseMac(v);
      if (!m) throw fail(`"${v}" is invalid lladdr.`);
      lladdr = m;
      continue;
    }
    if (w === 'nud') {
      const v = a.value();
      const s = NUD[v];
      if (!s) throw fail(`Error: argument "${v}" is wrong: nud state is bad`);
      state = s;
      continue;
    }
    if (w === 'dev') { devName = a.value(); continue; }
    if (w === 'router') { router = true; continue; }
    if (w === 'proxy') throw fail('Error: nfx does not model proxy neighbours.');
    if (w === 'to') { dst = parseInetAddr(a.value(), opts.family); continue; }
    if (dst) throw fail(`Error: either "to" is duplicate, or "${w}" is a garbage.`);
    dst = parseInetAddr(w, opts.family);
  }
  if (!dst || devName === undefined) throw fail('Device and destination are required arguments.', 255);
  // ipneigh_modify(): the device is looked up once the line is read.
  const dev = findDev(host, devName).index;
  const family: Family = dst.length === 4 ? 4 : 6;
  if (mode === 'del') { neighDel(host, family, dst, dev); return 0; }
  if (!lladdr && state !== 'NOARP' && state !== 'FAILED' && state !== 'INCOMPLETE') throw extack('No link layer address given.');
  const n: Neigh = { family, dst, dev, state, router };
  if (lladdr) n.lladdr = lladdr;
  neighAdd(host, n, mode);
  return 0;
}

export function neighJson(host: Host, n: Neigh, stats = false): Record<string, unknown> {
  const o: Record<string, unknown> = { dst: formatAddr(n.dst), dev: linkByIndex(host, n.dev)?.name };
  if (n.lladdr) o['lladdr'] = formatMac(n.lladdr);
  if (n.router) o['router'] = null;
  if (stats) {
    const c = neighCacheinfo(n);
    if (c.refcnt) o['refcnt'] = c.refcnt;
    Object.assign(o, { used: c.used, confirmed: c.confirmed, updated: c.updated, probes: 0 });
  }
  o['state'] = [n.state];
  return o;
}

/**
 * NDA_CACHEINFO as the kernel fills it for an entry no traffic has touched (neigh_fill_info):
 * ages in seconds since last use, confirmation and update, and the references beyond the
 * table's own. nfx keeps no neighbour timestamps, so the ages are those of a fresh entry:
 * ___neigh_create backdates `confirmed` by twice BASE_REACHABLE_TIME (2 × 30 s) and only a
 * NUD_CONNECTED state (permanent, noarp, reachable) confirms it now; the states with a timer
 * running (NUD_IN_TIMER) hold one more reference (neigh_add_timer).
 */
function neighCacheinfo(n: Neigh): { refcnt: number; used: number; confirmed: number; updated: number } {
  const connected = n.state === 'PERMANENT' || n.state === 'NOARP' || n.state === 'REACHABLE';
  const inTimer = n.state === 'INCOMPLETE' || n.state === 'REACHABLE' || n.state === 'DELAY' || n.state === 'PROBE';
  return { refcnt: inTimer ? 1 : 0, used: 0, confirmed: connected ? 0 : 60, updated: 0 };
}

/**
 * One entry as ipneigh.c print_neigh writes it: `dev` only when the listing is not narrowed
 * to one device; with -s print_cacheinfo's ` [ref R] used U/C/Up` and `probes N ` (6.1 puts
 * no blank between the two: `used 0/60/0probes 0`).
 */
function neighText(host: Host, n: Neigh, showDev: boolean, stats: boolean): string {
  let s = `${formatAddr(n.dst)} ${showDev ? `dev ${linkByIndex(host, n.dev)?.name} ` : ''}`;
  if (n.lladdr) s += `lladdr ${formatMac(n.lladdr)} `;
  if (n.router) s += 'router ';
  if (stats) {
    const c = neighCacheinfo(n);
    s += `${c.refcnt ? ` ref ${c.refcnt}` : ''} used ${c.used}/${c.confirmed}/${c.updated}probes 0 `;
  }
  return `${s}${n.state} \n`;
}

/** uapi linux/neighbour.h NUD_* bits; 0x100 is ipneigh.c's own bit for NUD_NONE (state 0) in a filter. */
const NUD_BIT: Readonly<Record<NudState, number>> = {
  INCOMPLETE: 0x01, REACHABLE: 0x02, STALE: 0x04, DELAY: 0x08, PROBE: 0x10, FAILED: 0x20, NOARP: 0x40, PERMANENT: 0x80,
};
const NUD_NONE_FILTER = 0x100;

/**
 * nud_state_a2n (ipneigh.c): `permanent`, `reachable` and `failed` by any prefix, the other
 * names whole, or a number (get_unsigned, base 0) with at most one bit below 0x100.
 */
function nudFilterBits(word: string): number | undefined {
  if (matches(word, 'permanent')) return NUD_BIT.PERMANENT;
  if (matches(word, 'reachable')) return NUD_BIT.REACHABLE;
  const exact: Record<string, number> = { noarp: NUD_BIT.NOARP, none: 0, stale: NUD_BIT.STALE, incomplete: NUD_BIT.INCOMPLETE, delay: NUD_BIT.DELAY, probe: NUD_BIT.PROBE };
  if (word in exact) return exact[word];
  if (matches(word, 'failed')) return NUD_BIT.FAILED;
  const n = /^0[xX][0-9a-fA-F]+$/.test(word) ? parseInt(word.slice(2), 16) : /^0[0-7]*$/.test(word) ? parseInt(word, 8) : /^[1-9]\d*$/.test(word) ? Number(word) : NaN;
  if (Number.isNaN(n) || n >= 0x100 || (n & (n - 1)) !== 0) return undefined;
  return n;
}

/**
 * `ip neigh show|flush` (ipneigh.c do_show_or_flush). The state filter starts as `0xFF &
 * ~NUD_NOARP` for show and `~(NUD_PERMANENT | NUD_NOARP)` for flush: both leave NOARP entries
 * out, and flush keeps permanent ones. The first `nud` replaces it, each further one adds;
 * `nud all` is every state, less NOARP when flushing; `nud none` is the 0x100 bit. Any other
 * word is the `to` prefix (`all`, `any`, `default`: every address).
 */
function neighShow(host: Host, a: Args, opts: IpOptions, io: IpIo, flush: boolean): number {
  let dev: string | undefined;
  let state = flush ? ~(NUD_BIT.PERMANENT | NUD_BIT.NOARP) : 0xff & ~NUD_BIT.NOARP;
  let stateGiven = false;
  let family = opts.family;
  let prefix: { addr: Uint8Array; plen: number } | undefined;
  while (!a.done) {
    const w = a.take();
    if (w === 'dev') {
      const v = a.value();
      if (dev !== undefined) throw fail(`Error: duplicate "dev": "${v}" is the second value.`, 255);
      dev = v;
      continue;
    }
    if (w === 'nud') {
      const v = a.value();
      if (!stateGiven) { stateGiven = true; state = 0; }
      let bits = nudFilterBits(v);
      if (bits === undefined) {
        // invarg(): exit(-1), 255.
        if (v !== 'all') throw fail(`Error: argument "${v}" is wrong: nud state is bad`, 255);
        bits = flush ? ~NUD_BIT.NOARP : ~0;
      }
      state |= bits === 0 ? NUD_NONE_FILTER : bits;
      continue;
    }
    if (w === 'proxy' || w === 'unused' || w === 'nomaster' || w === 'master' || w === 'vrf' || matches(w, 'protocol')) {
      throw fail(`Error: nfx does not model neighbour selector "${w}".`);
    }
    const v = w === 'to' ? a.value() : w;
    if (v === 'all' || v === 'any' || v === 'default') continue;
    const p = parseInetPrefix(v, family);
    prefix = p;
    family ??= p.family;
  }
  // The device is looked up once the whole line is read (ll_name_to_index after the loop).
  const ifindex = dev === undefined ? undefined : findDev(host, dev).index;
  const inPrefix = (n: Neigh): boolean => !prefix || (n.dst.length === prefix.addr.length && prefixMatch(n.dst, prefix.addr, prefix.plen));
  const list = [4, 6].flatMap((f) => host.neighs.filter((n) => n.family === f))
    .filter((n) => (!family || n.family === family) && (ifindex === undefined || n.dev === ifindex) && (state & NUD_BIT[n.state]) !== 0 && inPrefix(n));
  if (flush) {
    const gone = new Set(list);
    host.neighs = host.neighs.filter((n) => !gone.has(n));
    // -s -s: each entry deleted, printed as `ip -s neigh show` prints it (print_neigh with
    // filter.flushb set; text even under -j), before the report.
    if (opts.stats > 1) for (const n of list) io.out(neighText(host, n, ifindex === undefined, true));
    // -s: the rounds' report; one round deletes everything here, the second finds nothing.
    if (opts.stats) {
      io.out(gone.size ? `\n*** Round 1, deleting ${gone.size} entries ***\n*** Flush is complete after 1 round ***\n` : 'Nothing to flush.\n');
    }
    return 0;
  }
  // print_neigh: `dev NAME` only when the listing is not already narrowed to one device.
  if (opts.json) {
    io.out(json(list.map((n) => { const o = neighJson(host, n, opts.stats > 0); if (ifindex !== undefined) delete o['dev']; return o; })) + '\n');
    return 0;
  }
  for (const n of list) io.out(neighText(host, n, ifindex === undefined, opts.stats > 0));
  return 0;
}

/** inet_addr_match: the first `plen` bits of `a` and `b` agree. */
function prefixMatch(a: Uint8Array, b: Uint8Array, plen: number): boolean {
  for (let i = 0; i < plen; i += 8) {
    const bits = Math.min(8, plen - i);
    const mask = (0xff << (8 - bits)) & 0xff;
    if (((a[i >> 3]! ^ b[i >> 3]!) & mask) !== 0) return false;
  }
  return true;
}
