/**
 * Builders for specs of the packet path: a two-legged router, rulesets from
 * `nft --debug=netlink` rule text, and `expectFate`. Not used on the data path.
 */
import assert from 'node:assert/strict';
import { newHost } from '../model.js';
import { runIp } from '../ip/index.js';
import { sysctlSet } from '../sysctl.js';
import type { Host } from '../types.js';
import { Ruleset } from '../../netfilter/ruleset.js';
import { commitBatch } from '../../netfilter/transaction.js';
import type { BatchOp } from '../../netfilter/batch.js';
import { parseExprLine } from '../../netfilter/bytecode-text.js';
import type { Expr, Rule } from '../../netfilter/bytecode.js';
import { VirtualClock } from '../../netfilter/clock.js';
import type { Clock } from '../../netfilter/clock.js';
import type { DropReason, Fate, PacketOutcome } from './types.js';

/** Runs `ip` lines against the host; throws on the first failure. */
export function ipLines(host: Host, lines: string): void {
  for (const line of lines.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))) {
    let err = '';
    const st = runIp(host, line.replace(/^ip\s+/, '').split(/\s+/), { out: () => {}, err: (t) => { err += t; } });
    if (st !== 0) throw new Error(`ip ${line}: ${err}`);
  }
}

/**
 * A router: `lan0` 10.0.1.1/24 + 2001:db8:1::1/64, `wan0` 192.0.2.1/24 +
 * 2001:db8:2::1/64, default routes via 192.0.2.254 / 2001:db8:2::fe, permanent
 * neighbours for the peers 10.0.1.2, 192.0.2.254 and their IPv6 twins,
 * forwarding on, ICMP rate limits off (as the kernel tests set them).
 */
export function routerHost(o: { forward?: boolean } = {}): Host {
  const h = newHost('router');
  ipLines(h, `
    link set lo up
    link add lan0 type ether address 02:00:00:00:01:01
    link add wan0 type ether address 02:00:00:00:02:01
    link set lan0 up
    link set wan0 up
    addr add 10.0.1.1/24 brd + dev lan0
    addr add 192.0.2.1/24 brd + dev wan0
    addr add 2001:db8:1::1/64 dev lan0 nodad
    addr add 2001:db8:2::1/64 dev wan0 nodad
    route add default via 192.0.2.254 dev wan0
    -6 route add default via 2001:db8:2::fe dev wan0
    neigh add 10.0.1.2 lladdr 02:00:00:00:01:02 dev lan0 nud permanent
    neigh add 192.0.2.254 lladdr 02:00:00:00:02:fe dev wan0 nud permanent
    neigh add 2001:db8:1::2 lladdr 02:00:00:00:01:02 dev lan0 nud permanent
    neigh add 2001:db8:2::fe lladdr 02:00:00:00:02:fe dev wan0 nud permanent
  `);
  if (o.forward !== false) {
    sysctlSet(h, 'net.ipv4.ip_forward', '1');
    sysctlSet(h, 'net.ipv6.conf.all.forwarding', '1');
  }
  sysctlSet(h, 'net.ipv4.icmp_ratelimit', '0');
  sysctlSet(h, 'net.ipv6.icmp.ratelimit', '0');
  return h;
}

/** One rule from `[ ... ]` lines; `source` is its nft text for traces. */
export function rule(text: string, source?: string): Rule {
  const exprs: Expr[] = [];
  for (const line of text.split('\n')) if (/^\s*\[/.test(line)) exprs.push(parseExprLine(line.trim()));
  const r: Rule = { exprs };
  if (source !== undefined) r.source = source;
  return r;
}

export interface ChainSpec {
  family: number;
  table: string;
  chain: string;
  /** NF_INET_* hook; undefined = a regular chain. */
  hook?: number;
  priority?: number;
  /** NF_ACCEPT 1 (default) or NF_DROP 0. */
  policy?: number;
  type?: string;
  devices?: string[];
  rules?: Rule[];
}

/** Commits tables and chains with their rules; throws when the kernel would refuse the batch. */
export function buildRuleset(chains: ChainSpec[], clock: Clock = new VirtualClock(), ruleset = new Ruleset()): Ruleset {
  const ops: BatchOp[] = [];
  const tables = new Set<string>();
  for (const c of chains) {
    const key = `${c.family}:${c.table}`;
    if (!tables.has(key)) { tables.add(key); ops.push({ op: 'newtable', family: c.family, table: c.table }); }
    const op: BatchOp = { op: 'newchain', family: c.family, table: c.table, chain: c.chain };
    if (c.hook !== undefined) {
      op.hook = c.devices ? { hooknum: c.hook, priority: c.priority ?? 0, devices: c.devices } : { hooknum: c.hook, priority: c.priority ?? 0 };
      op.type = c.type ?? 'filter';
      op.policy = c.policy ?? 1;
    }
    ops.push(op);
    for (const r of c.rules ?? []) ops.push({ op: 'newrule', family: c.family, table: c.table, chain: c.chain, rule: r, append: true });
  }
  const res = commitBatch(ruleset, ops, clock);
  if (!res.ok) throw new Error(`ruleset refused: ${JSON.stringify(res)}`);
  return ruleset;
}

export interface FateSpec {
  fate: Fate;
  reason?: DropReason;
  /** The deciding rule: `family table chain handle` (handle null = policy), or a check's text fragment. */
  rule?: { family?: string; table: string; chain: string; handle: number | null };
  check?: RegExp;
  /** Devices of emitted frames, in order. */
  emitted?: string[];
}

/** Asserts the outcome's fate, drop reason, deciding rule or check, and emitted devices. */
export function expectFate(out: PacketOutcome, spec: FateSpec): void {
  const msg = (): string => `outcome: ${JSON.stringify({ fate: out.fate, reason: out.reason, dropBy: out.dropBy, emitted: out.emitted.map((e) => e.dev) })}\n` +
    out.steps.map((s) => `${'  '.repeat(s.depth)}${s.kind}: ${s.text}`).join('\n');
  assert.equal(out.fate, spec.fate, msg());
  if (spec.reason !== undefined || spec.fate !== 'dropped') assert.equal(out.reason, spec.reason, msg());
  if (spec.rule) {
    assert.equal(out.dropBy?.kind, 'rule', msg());
    const by = out.dropBy as { family: string; table: string; chain: string; handle: number | null };
    if (spec.rule.family !== undefined) assert.equal(by.family, spec.rule.family, msg());
    assert.equal(by.table, spec.rule.table, msg());
    assert.equal(by.chain, spec.rule.chain, msg());
    assert.equal(by.handle, spec.rule.handle, msg());
  }
  if (spec.check) {
    assert.equal(out.dropBy?.kind, 'check', msg());
    assert.match((out.dropBy as { check: string }).check, spec.check, msg());
  }
  if (spec.emitted) assert.deepEqual(out.emitted.map((e) => e.dev), spec.emitted, msg());
}
