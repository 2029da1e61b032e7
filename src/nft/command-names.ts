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
 * std_prio_family_hook_compat (nft 1.0.6): which named priority may be used with this
 * family and hook. 1.0.6 allows `dstnat` only in prerouting and `srcnat` only in
 * postrouting (later releases added output/input); it refuses the rest.
 */
function prioCompat(name: string, family: Family, hook: string): boolean {
  if (family === 'bridge') {
    if (name === 'dstnat') return hook === 'prerouting';
    if (name === 'srcnat') return hook === 'postrouting';
    if (name === 'out') return hook === 'output';
    return name === 'filter';
  }
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

/** prio2str: a standard name when the priority is within 10 of one that suits the hook. */
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
