/**
 * `ip rule` and `ip neigh` state changes with the kernel's checks
 * (net/core/fib_rules.c fib_nl_newrule/fib_nl_delrule, net/core/neighbour.c).
 */
import { equalAddr } from './inet.js';
import { extack, rtnetlink } from './errors.js';
import { ensureTable } from './fib.js';
import type { Host, Neigh, Rule } from './types.js';

/** fib_default_rule_pref(): one below the second rule of the list (the first is `local` at 0). */
export function defaultRulePref(host: Host, family: 4 | 6): number {
  const list = host.rules.filter((r) => r.family === family);
  const second = list[1];
  return second && second.priority > 0 ? second.priority - 1 : 0;
}

/**
 * rule_exists() + fib4/6_rule_compare(): selectors the new rule leaves out
 * (source, destination, TOS) are not compared, nor is the `not` flag.
 */
function ruleExists(r: Rule, n: Rule): boolean {
  if (r.family !== n.family || r.action !== n.action || r.table !== n.table || r.priority !== n.priority) return false;
  if (r.iif !== n.iif || r.oif !== n.oif || (r.fwmark ?? 0) !== (n.fwmark ?? 0) || (r.fwmask ?? 0) !== (n.fwmask ?? 0)) return false;
  if (r.suppressPrefixlen !== n.suppressPrefixlen || r.target !== n.target) return false;
  if (n.srcLen && (r.srcLen !== n.srcLen || !optEq(r.src, n.src))) return false;
  if (n.dstLen && (r.dstLen !== n.dstLen || !optEq(r.dst, n.dst))) return false;
  if (n.tos && r.tos !== n.tos) return false;
  return true;
}

function optEq(a?: Uint8Array, b?: Uint8Array): boolean {
  return a === undefined ? b === undefined : b !== undefined && equalAddr(a, b);
}

/** Adds a rule after every rule of lower or equal priority. Any IPv4 rule unmerges the local table. */
export function ruleAdd(host: Host, rule: Rule): void {
  // fib4_rule_configure() marks the namespace before the duplicate check runs.
  if (rule.family === 4) host.customRules4 = true;
  host.rulesInUse[rule.family] = true;
  // fib6_rule_configure() creates the table a `lookup` rule names.
  if (rule.family === 6 && rule.action === 'lookup') ensureTable(host, 6, rule.table);
  if (host.rules.some((r) => ruleExists(r, rule))) throw rtnetlink('EEXIST');
  if (rule.action === 'goto') {
    if (rule.target === undefined || rule.target <= rule.priority) throw extack('Backward goto not supported');
  }
  if (rule.action === 'lookup' && rule.table === 0) throw extack('Invalid table');
  let at = -1;
  host.rules.forEach((r, i) => { if (r.family === rule.family && r.priority <= rule.priority) at = i; });
  if (at < 0) {
    const first = host.rules.findIndex((r) => r.family === rule.family);
    if (first < 0) host.rules.push(rule); else host.rules.splice(first, 0, rule);
  } else host.rules.splice(at + 1, 0, rule);
  if (rule.family === 4) host.customRules4 = true;
}

/** The selectors a `del` request gives; absent fields match anything. */
export type RuleDelSpec = Partial<Rule> & { family: 4 | 6 };

/** Deletes the first rule matching every given field (rule_find()). ENOENT when none does. */
export function ruleDel(host: Host, d: RuleDelSpec): Rule {
  const hit = host.rules.find((r) => {
    if (r.family !== d.family) return false;
    if (d.priority !== undefined && r.priority !== d.priority) return false;
    // rule_find() does not compare the `not` flag.
    if (d.src !== undefined && !(r.src && equalAddr(r.src, d.src) && r.srcLen === d.srcLen)) return false;
    if (d.dst !== undefined && !(r.dst && equalAddr(r.dst, d.dst) && r.dstLen === d.dstLen)) return false;
    if (d.iif !== undefined && r.iif !== d.iif) return false;
    if (d.oif !== undefined && r.oif !== d.oif) return false;
    if (d.fwmark && r.fwmark !== d.fwmark) return false;
    if (d.fwmask && d.fwmark !== undefined && r.fwmask !== d.fwmask) return false;
    if (d.tos !== undefined && d.tos !== 0 && r.tos !== d.tos) return false;
    if (d.table !== undefined && d.table !== 0 && r.table !== d.table) return false;
    if (d.action !== undefined && r.action !== d.action) return false;
    return true;
  });
  if (!hit) throw rtnetlink('ENOENT');
  host.rules = host.rules.filter((r) => r !== hit);
  if (hit.family === 4) host.customRules4 = true; // fib4_rule_delete()
  return hit;
}

export type NeighMode = 'add' | 'replace' | 'change';

/** Adds or replaces a neighbour entry (neigh_add()); new entries are listed first. */
export function neighAdd(host: Host, n: Neigh, mode: NeighMode): void {
  const old = host.neighs.find((x) => x.family === n.family && x.dev === n.dev && equalAddr(x.dst, n.dst));
  if (old) {
    if (mode === 'add') throw rtnetlink('EEXIST');
    Object.assign(old, n);
    return;
  }
  if (mode === 'change') throw rtnetlink('ENOENT');
  host.neighs.unshift(n);
}

export function neighDel(host: Host, family: 4 | 6, dst: Uint8Array, dev: number): void {
  const i = host.neighs.findIndex((x) => x.family === family && x.dev === dev && equalAddr(x.dst, dst));
  if (i < 0) throw rtnetlink('ENOENT');
  host.neighs.splice(i, 1);
}

/** The neighbour entry for a next hop, if any (the packet path resolves the rest with a derived MAC). */
export function neighLookup(host: Host, family: 4 | 6, dst: Uint8Array, dev: number): Neigh | undefined {
  for (const n of host.neighs) if (n.family === family && n.dev === dev && equalAddr(n.dst, dst)) return n;
  return undefined;
}
