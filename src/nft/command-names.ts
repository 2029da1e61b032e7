/**
 * Names and numbers the nft command shares between its batch builder and its
 * listings: families (NFPROTO_*), hooks (NF_INET_* and friends), the standard
 * chain priorities (nftables src/rule.c std_prios / bridge_std_prios), set
 * flags and object types (uapi nf_tables.h).
 */
import type { Family } from './ast.js';
import { NFPROTO } from '../netfilter/batch.js';
import { DT, type Datatype } from './datatypes.js';

export const FAMILY_NUM: Readonly<Record<Family, number>> = {
  inet: NFPROTO.INET, ip: NFPROTO.IPV4, arp: NFPROTO.ARP, netdev: NFPROTO.NETDEV, bridge: NFPROTO.BRIDGE, ip6: NFPROTO.IPV6,
};
export const FAMILY_OF: Readonly<Record<number, Family>> = { 1: 'inet', 2: 'ip', 3: 'arp', 5: 'netdev', 7: 'bridge', 10: 'ip6' };

/** uapi netfilter.h: NF_INET_PRE_ROUTING 0 ... NF_INET_INGRESS 5; netdev ingress 0 / egress 1; arp in 0, out 1, forward 2. */
const INET_HOOKS = ['prerouting', 'input', 'forward', 'output', 'postrouting', 'ingress'];
const NETDEV_HOOKS = ['ingress', 'egress'];
const ARP_HOOKS = ['input', 'output', 'forward'];

function hookList(family: Family): string[] {
  return family === 'netdev' ? NETDEV_HOOKS : family === 'arp' ? ARP_HOOKS : INET_HOOKS;
}
export function hookNumber(family: Family, name: string): number | undefined {
  const i = hookList(family).indexOf(name);
  return i < 0 ? undefined : i;
}
export function hookName(family: Family, num: number): string {
  return hookList(family)[num] ?? String(num);
}

/** nftables src/rule.c std_prios (NF_IP_PRI_*): raw -300, mangle -150, dstnat -100, filter 0, security 50, srcnat 100. */
const STD_PRIOS: [string, number][] = [['raw', -300], ['mangle', -150], ['dstnat', -100], ['filter', 0], ['security', 50], ['srcnat', 100]];
/** bridge_std_prios (NF_BR_PRI_*). */
const BRIDGE_PRIOS: [string, number][] = [['dstnat', -300], ['filter', -200], ['out', 100], ['srcnat', 300]];

/**
 * std_prio_family_hook_compat (nftables 1.0.6 src/rule.c): which standard priority a family and
 * hook may use, by name when read and when listed. Bridge has its own table (NF_BR_PRI_*):
 * `filter` everywhere, `dstnat`/`out`/`srcnat` at prerouting/output/postrouting only. Elsewhere
 * `filter` suits every family but bridge; raw, mangle and security are ip/ip6/inet names only
 * (arp and netdev print -300 as -300); dstnat and srcnat are ip/ip6/inet prerouting and
 * postrouting only (1.0.6; later releases added output and input).
 */
function prioCompat(name: string, family: Family, hook: string): boolean {
  if (family === 'bridge') {
    if (name === 'dstnat') return hook === 'prerouting';
    if (name === 'out') return hook === 'output';
    if (name === 'srcnat') return hook === 'postrouting';
    return name === 'filter';
  }
  if (name === 'filter') return true;
  const ipFamily = family === 'ip' || family === 'ip6' || family === 'inet';
  if (!ipFamily) return false;
  if (name === 'dstnat') return hook === 'prerouting';
  if (name === 'srcnat') return hook === 'postrouting';
  return true;
}

/**
 * A priority as written (`filter`, `-150`, `mangle - 5`; the parser hands it
 * over as one word) → its number, or an error text nft would print.
 */
export function evalPriority(text: string, family: Family, hook: string): number | string {
  const m = /^([a-z]+)?\s*([+-])?\s*(\d+)?$/.exec(text.replace(/\s+/g, ''));
  if (!m) return 'invalid priority expression value in this context.';
  const [, name, sign, digits] = m;
  let base = 0;
  if (name !== undefined) {
    const table = family === 'bridge' ? BRIDGE_PRIOS : STD_PRIOS;
    const hit = table.find(([n]) => n === name);
    if (!hit || !prioCompat(name, family, hook)) return 'invalid priority expression value in this context.';
    base = hit[1];
    if (digits === undefined && sign !== undefined) return 'invalid priority expression value in this context.';
  } else if (digits === undefined) return 'invalid priority expression value in this context.';
  const off = digits === undefined ? 0 : Number(digits);
  return base + (sign === '-' ? -off : off);
}

/**
 * prio2str (src/rule.c): the first standard priority within 10 names it, if it suits the family
 * and hook; if it does not, the number is printed (nft does not look further). `-y` prints numbers.
 */
export function priorityText(prio: number, family: Family, hook: string, numeric: boolean): string {
  if (!numeric) {
    const table = family === 'bridge' ? BRIDGE_PRIOS : STD_PRIOS;
    for (const [name, val] of table) {
      if (Math.abs(prio - val) > 10) continue;
      if (!prioCompat(name, family, hook)) break;
      const off = prio - val;
      return off > 0 ? `${name} + ${off}` : off < 0 ? `${name} - ${-off}` : name;
    }
  }
  return String(prio);
}

/** uapi nf_tables.h NFT_OBJECT_*. */
export const OBJ_TYPE: Readonly<Record<string, number>> = {
  counter: 1, quota: 2, 'ct helper': 3, limit: 4, connlimit: 5, tunnel: 6, 'ct timeout': 7, secmark: 8, 'ct expectation': 9, synproxy: 10,
};
export const OBJ_NAME: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(OBJ_TYPE).map(([k, v]) => [v, k]));
/** `list counters`, `list quotas` ...: the plural word of each object type. */
export const OBJ_PLURAL: Readonly<Record<string, number>> = {
  counters: 1, quotas: 2, 'ct helpers': 3, limits: 4, 'ct timeouts': 7, secmarks: 8, 'ct expectations': 9, synproxys: 10,
};

/** Datatypes by nft id (datatype.h enum datatypes); concatenations pack ids 6 bits apart (TYPE_BITS). */
const DT_BY_ID = new Map<number, Datatype>(Object.values(DT).map((d) => [d.id, d]));
export const TYPE_BITS = 6;
export function datatypeById(id: number): Datatype | undefined { return DT_BY_ID.get(id); }
export function concatTypeId(ids: number[]): number {
  let t = 0;
  for (const id of ids) t = (t << TYPE_BITS) | id;
  return t;
}
export function splitConcatType(id: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) { out.unshift(id & ((1 << TYPE_BITS) - 1)); id >>>= TYPE_BITS; }
  return out;
}

/**
 * nftables src/misspell.c string_distance(), kept exact because its "did you mean" choices
 * depend on its quirks: it compares a[i] with b[j] (one past the character the row stands
 * for, so the strings' closing NULs meet last) and stores row i at i * len(b), so neighbouring
 * rows overlap by one cell. Byte strings, as strlen() counts.
 */
function nftStringDistance(a: Uint8Array, b: Uint8Array): number {
  const la = a.length;
  const lb = b.length;
  const d = new Uint32Array((la + 1) * (lb + 1));
  const at = (s: Uint8Array, i: number): number => (i < s.length ? s[i]! : 0);
  const ix = (i: number, j: number): number => i * lb + j;
  for (let i = 0; i <= la; i++) d[ix(i, 0)] = i;
  for (let j = 0; j <= lb; j++) d[ix(0, j)] = j;
  for (let i = 1; i <= la; i++) {
    for (let j = 1; j <= lb; j++) {
      const sub = at(a, i) === at(b, j) ? 0 : 1;
      d[ix(i, j)] = Math.min(d[ix(i - 1, j)]! + 1, d[ix(i, j - 1)]! + 1, d[ix(i - 1, j - 1)]! + sub);
      if (i > 1 && j > 1 && at(a, i) === at(b, j - 1) && at(a, i - 1) === at(b, j)) {
        d[ix(i, j)] = Math.min(d[ix(i, j)]!, d[ix(i - 2, j - 2)]! + sub);
      }
    }
  }
  return d[ix(la, lb)]!;
}

/**
 * string_misspell_update over `candidates` in order (misspell.c): names of one character never
 * match; the threshold is a third of the longer name (rounded up, at least 1) when the lengths
 * differ by at most one, else a third of (longer + 2); the first candidate at the least
 * distance wins. What table_lookup_fuzzy, obj_lookup_fuzzy and friends suggest.
 */
export function misspelt<T>(name: string, candidates: Iterable<readonly [string, T]>): T | undefined {
  const typed = Buffer.from(name);
  let best: T | undefined;
  let min = Infinity;
  for (const [cand, value] of candidates) {
    const a = Buffer.from(cand);
    const maxLen = Math.max(a.length, typed.length);
    const minLen = Math.min(a.length, typed.length);
    if (maxLen <= 1) continue;
    const threshold = maxLen - minLen <= 1 ? Math.max(Math.ceil(maxLen / 3), 1) : Math.ceil((maxLen + 2) / 3);
    const dist = nftStringDistance(a, typed);
    if (dist <= threshold && dist < min) { min = dist; best = value; }
  }
  return best;
}
