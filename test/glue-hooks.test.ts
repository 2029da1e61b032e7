/**
 * The glue between the host path and the engine: evaluateChainList runs
 * exactly the chains it is given; a drop's deciding table family is the
 * chain's own, in the fast mode as in the detail mode; the host's devices as
 * the engine sees them follow the links.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostPath } from '../src/host/path/walk.js';
import { buildRuleset, expectFate, routerHost, rule } from '../src/host/path/testing.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import { evaluateChainList, evaluateHook, newHookResult } from '../src/netfilter/hooks.js';
import { runtimeOf } from '../src/netfilter/runtime.js';
import { NullHostServices } from '../src/netfilter/host-services.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { ipv4Packet } from '../src/netfilter/testing.js';
import { NF_ACCEPT, NF_DROP } from '../src/netfilter/bytecode.js';
import { PathServices } from '../src/host/services.js';
import { ipLines } from '../src/host/path/testing.js';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { executeNft, parseNftArgs } from '../src/nft/command.js';

const IP = 2, INET = 1, FWD = 2, IN = 1;
const DROP = '[ immediate reg 0 drop ]';
const SYN = 'IP(src="10.0.1.2",dst="198.51.100.7")/TCP(sport=40000,dport=80,flags="S")';
const l3 = (expr: string): Uint8Array => packetFromExpression(expr, { link: 'raw' });

test('a drop by an inet chain is reported as inet, not as the ip table of the same names, in both modes', () => {
  // Same table and chain names in ip and inet: only the chain that decided tells them apart.
  const rs = () => buildRuleset([
    { family: IP, table: 'filter', chain: 'forward', hook: FWD, priority: 0, rules: [rule('[ counter pkts 0 bytes 0 ]')] },
    { family: INET, table: 'filter', chain: 'forward', hook: FWD, priority: 10, rules: [rule(DROP, 'drop')] },
  ]);
  for (const detail of [true, false]) {
    const r = rs();
    const out = new HostPath(routerHost(), { ruleset: r, detail }).receive('lan0', l3(SYN), true);
    const handle = r.table(INET, 'filter')!.chains.get('forward')!.rules[0]!.handle!;
    expectFate(out, { fate: 'dropped', reason: 'NETFILTER_DROP', rule: { family: 'inet', table: 'filter', chain: 'forward', handle } });
  }
});

test('a drop by an ip chain next to an inet table of the same names stays ip, and a policy drop names its chain', () => {
  const rs = () => buildRuleset([
    { family: INET, table: 'filter', chain: 'forward', hook: FWD, priority: 10 },
    { family: IP, table: 'filter', chain: 'forward', hook: FWD, priority: 0, policy: NF_DROP },
  ]);
  for (const detail of [true, false]) {
    const out = new HostPath(routerHost(), { ruleset: rs(), detail }).receive('lan0', l3(SYN), true);
    expectFate(out, { fate: 'dropped', reason: 'NETFILTER_DROP', rule: { family: 'ip', table: 'filter', chain: 'forward', handle: null } });
  }
});

test('evaluateChainList runs exactly the chains given, and reports the deciding table family', () => {
  const rs = buildRuleset([
    { family: IP, table: 'a', chain: 'in', hook: IN, priority: -10, rules: [rule(DROP, 'drop')] },
    { family: INET, table: 'b', chain: 'in', hook: IN, priority: 10, policy: NF_DROP },
  ]);
  const rt = runtimeOf(rs);
  const all = rt.hookTable[IP * 8 + IN]!;
  assert.deepEqual(all.map((c) => c.table.name), ['a', 'b']);
  const ctx = { host: new NullHostServices(), clock: new VirtualClock(0) };
  const out = newHookResult();

  assert.equal(evaluateChainList(rt, undefined, IP, IN, ipv4Packet(), ctx, out), out);
  assert.deepEqual([out.verdict, out.table, out.tableFamily, out.handle], [NF_ACCEPT, undefined, -1, -1], 'no chain: accepted');

  evaluateChainList(rt, [all[1]!], IP, IN, ipv4Packet(), ctx, out);
  assert.deepEqual([out.verdict, out.table, out.tableFamily, out.chain, out.handle], [NF_DROP, 'b', INET, 'in', -1], 'only b: its policy');

  evaluateChainList(rt, all, IP, IN, ipv4Packet(), ctx, out);
  const h = rs.table(IP, 'a')!.chains.get('in')!.rules[0]!.handle!;
  assert.deepEqual([out.verdict, out.table, out.tableFamily, out.handle], [NF_DROP, 'a', IP, h], 'both: a decides first');

  const again = evaluateHook(rs, IP, IN, ipv4Packet(), ctx);
  assert.deepEqual([again.verdict, again.table, again.tableFamily, again.handle], [NF_DROP, 'a', IP, h], 'evaluateHook runs the whole list');
  assert.equal(rt.hookTable[IP * 8 + IN], all, 'the runtime\'s hook list is left alone');
});

test('PathServices.device: one object per link while it is unchanged, a new one after a rename, none after deletion', () => {
  const host = routerHost();
  const path = new HostPath(host);
  const svc = new PathServices(path);
  const lan = host.links.find((l) => l.name === 'lan0')!;
  const d = svc.device(lan.index)!;
  assert.deepEqual({ ...d }, { ifindex: lan.index, name: 'lan0', type: 1, group: 0, kind: '' });
  assert.equal(svc.device(lan.index), d, 'the same object while the link is unchanged');
  ipLines(host, 'link set lan0 down\nlink set lan0 name inside0');
  const renamed = svc.device(lan.index)!;
  assert.notEqual(renamed, d);
  assert.equal(renamed.name, 'inside0');
  assert.equal(d.name, 'lan0', 'an object handed out before is not changed');
  ipLines(host, 'link del inside0');
  assert.equal(svc.device(lan.index), undefined);
  assert.equal(svc.device(9999), undefined);
  assert.equal(svc.device(1)!.type, 772, 'lo is ARPHRD_LOOPBACK');
});

test('netdev ingress and egress chains added or deleted under a live path are met by the next packet', () => {
  const host = routerHost();
  const rs = new Ruleset();
  const clock = new VirtualClock(0);
  const path = new HostPath(host, { ruleset: rs, clock });
  const pkt = () => packetFromExpression('IP(src="10.0.1.2",dst="198.51.100.7")/UDP(sport=1,dport=2)', { link: 'raw' });
  const nft = (text: string): void => {
    let err = '';
    assert.equal(executeNft(rs, text, '/dev/stdin', { ...parseNftArgs(['-f', '-']), interfaces: host.links.map((l) => l.name) }, { out: () => {}, err: (t) => { err += t; } }, clock), 0, err);
  };
  expectFate(path.receive('lan0', pkt(), true), { fate: 'forwarded' });
  nft('add table netdev n\nadd chain netdev n in { type filter hook ingress device lan0 priority 0; policy drop; }');
  expectFate(path.receive('lan0', pkt(), true), { fate: 'dropped', reason: 'NETFILTER_DROP' });
  nft('delete chain netdev n in\nadd chain netdev n out { type filter hook egress device wan0 priority 0; policy drop; }');
  expectFate(path.receive('lan0', pkt(), true), { fate: 'dropped', reason: 'NETFILTER_DROP' });
  nft('delete table netdev n');
  expectFate(path.receive('lan0', pkt(), true), { fate: 'forwarded' });
});
