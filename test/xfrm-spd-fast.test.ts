/**
 * The SPD's lookup index (exact policies hashed by address pair, the rest in
 * lookup order, per direction and type) must answer exactly what a scan of
 * every policy answers: lowest priority value, then first inserted; sub
 * before main; selectors, marks, if_id; socket policies never from the SPD —
 * after any sequence of adds, updates, deletes, flushes and socket policies,
 * and after the policy list is replaced or edited directly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ManualClock,
  Xfrm,
  XfrmError,
  emptySelector,
  infiniteLifetime,
  parseAddress,
  selectorMatch,
  type PolicyConfig,
  type XfrmFlow,
  type XfrmPolicy,
  lookupOutput,
  policyCheck,
} from '../src/xfrm/index.js';
import { outputBypassesAll, policyCheckPassesAll } from '../src/xfrm/datapath.js';

const A = (s: string) => parseAddress(s)!.addr;
const V4 = ['10.0.0.1', '10.0.0.2', '10.0.1.1', '192.168.1.5'];
const V6 = ['2001:db8::1', '2001:db8::2', '2001:db8:1::1'];

/** The lookup as a plain scan of every policy (the model the index must agree with). */
function scanByType(ps: readonly XfrmPolicy[], type: number, fl: XfrmFlow, family: number, dir: number, ifId: number): XfrmPolicy | undefined {
  let best: XfrmPolicy | undefined;
  for (const p of ps) {
    if (p.socket || p.dir !== dir || p.type !== type || p.sel.family !== family || p.ifId !== ifId) continue;
    if ((((fl.mark ?? 0) & p.mark.m) >>> 0) !== p.mark.v || !selectorMatch(p.sel, fl, family)) continue;
    if (!best || p.priority < best.priority || (p.priority === best.priority && p.pos < best.pos)) best = p;
  }
  return best;
}
const scan = (ps: readonly XfrmPolicy[], fl: XfrmFlow, family: number, dir: number, ifId: number) =>
  scanByType(ps, 1, fl, family, dir, ifId) ?? scanByType(ps, 0, fl, family, dir, ifId);

const policyArb = fc.record({
  v6: fc.boolean(),
  d: fc.nat(9), s: fc.nat(9),
  // Full-length prefixes most often, so the exact hash gets used, and every shorter kind too.
  plenD: fc.constantFrom(-1, -1, -1, 0, 8, 24, 64), plenS: fc.constantFrom(-1, -1, -1, 0, 16, 31, 100),
  dir: fc.nat(2), type: fc.nat(1), priority: fc.nat(3),
  proto: fc.constantFrom(0, 0, 6, 17), dport: fc.constantFrom(0, 22, 80),
  mark: fc.constantFrom({ v: 0, m: 0 }, { v: 1, m: 1 }, { v: 2, m: 3 }),
  ifId: fc.constantFrom(0, 0, 7), ifindex: fc.constantFrom(0, 0, 2),
});
type PolicySpec = typeof policyArb extends fc.Arbitrary<infer T> ? T : never;

function config(sp: PolicySpec): PolicyConfig {
  const pool = sp.v6 ? V6 : V4;
  const full = sp.v6 ? 128 : 32;
  const plen = (n: number) => (n < 0 || n > full ? full : n);
  return {
    sel: {
      ...emptySelector(sp.v6 ? 10 : 2),
      daddr: A(pool[sp.d % pool.length]!), saddr: A(pool[sp.s % pool.length]!),
      prefixlenD: plen(sp.plenD), prefixlenS: plen(sp.plenS),
      proto: sp.proto, dport: sp.proto ? sp.dport : 0, dportMask: sp.proto && sp.dport ? 0xffff : 0, ifindex: sp.ifindex,
    },
    dir: sp.dir, action: 0, priority: sp.priority, index: 0, flags: 0, type: sp.type,
    mark: sp.mark, ifId: sp.ifId, tmpls: [], lft: infiniteLifetime(),
  };
}

const opArb = fc.oneof(
  fc.record({ op: fc.constant('add' as const), p: policyArb }),
  fc.record({ op: fc.constant('update' as const), p: policyArb }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('socket' as const), p: policyArb, drop: fc.boolean() }),
  fc.record({ op: fc.constant('flush' as const), type: fc.nat(1) }),
  fc.record({ op: fc.constant('replace-list' as const) }),
);
const flowArb = fc.record({
  v6: fc.boolean(), d: fc.nat(9), s: fc.nat(9), proto: fc.constantFrom(6, 17, 1), dport: fc.constantFrom(22, 80, 443),
  mark: fc.nat(3), ifId: fc.constantFrom(0, 7), oif: fc.constantFrom(0, 2, 3), dir: fc.nat(2),
});
type FlowSpec = typeof flowArb extends fc.Arbitrary<infer T> ? T : never;
function flowOf(f: FlowSpec): XfrmFlow {
  const pool = f.v6 ? V6 : V4;
  return { family: f.v6 ? 10 : 2, daddr: A(pool[f.d % pool.length]!), saddr: A(pool[f.s % pool.length]!), proto: f.proto, sport: 40000, dport: f.dport, mark: f.mark, oif: f.oif };
}

type OpSpec = typeof opArb extends fc.Arbitrary<infer T> ? T : never;
function apply(x: Xfrm, o: OpSpec): void {
  try {
    if (o.op === 'add') x.addPolicy(config(o.p));
    else if (o.op === 'update') x.updatePolicy(config(o.p));
    else if (o.op === 'delete') {
      const spd = x.spd.policies.filter((p) => !p.socket);
      const p = spd[o.at % Math.max(1, spd.length)];
      if (p) x.deletePolicy({ dir: p.dir, index: p.index, type: p.type, mark: p.mark, ifId: p.ifId });
    } else if (o.op === 'socket') x.setSocketPolicy('sock1', o.p.dir % 2, o.drop ? null : config(o.p));
    else if (o.op === 'flush') x.flushPolicies(o.type);
    // What restoring a saved SPD does: a new array in place of the old.
    else x.spd.policies = x.spd.policies.slice();
  } catch (e) {
    if (!(e instanceof XfrmError)) throw e;
  }
}

function agree(x: Xfrm, flows: FlowSpec[]): void {
  for (let dir = 0; dir < 3; dir++)
    assert.equal(x.spd.hasPolicies(dir), x.spd.policies.some((p) => !p.socket && p.dir === dir), `policies in dir ${dir}`);
  for (const f of flows) {
    const fl = flowOf(f);
    for (const ifId of [0, 7]) {
      const want = scan(x.spd.policies, fl, fl.family, f.dir, ifId);
      assert.equal(x.spd.lookup(fl, fl.family, f.dir, ifId), want, `lookup dir ${f.dir} if_id ${ifId}`);
      for (const type of [0, 1])
        assert.equal(x.spd.lookupByType(type, fl, fl.family, f.dir, ifId), scanByType(x.spd.policies, type, fl, fl.family, f.dir, ifId), `type ${type}`);
    }
    // The shortcuts that skip decoding the flow answer what the full check and lookup answer.
    for (const dir of [0, 2]) {
      if (!policyCheckPassesAll(x, dir, 0)) continue;
      const r = policyCheck(x, dir, fl, []);
      assert.ok(r.ok && r.policy === null, `dir ${dir} passes without a policy`);
    }
    if (outputBypassesAll(x)) assert.deepEqual(lookupOutput(x, fl), { action: 'bypass', policy: null });
    // "No policy can match these addresses" must never be said of a flow some policy matches.
    for (const dir of [0, 1, 2]) {
      const none = fl.family === 2 ? !x.spd.mayMatch4(dir, word(fl.saddr), word(fl.daddr)) : !x.spd.mayMatchNonV4(dir);
      if (!none) continue;
      for (const ifId of [0, 7]) assert.equal(x.spd.lookup(fl, fl.family, dir, ifId), undefined, `dir ${dir}: no policy may match, yet one does`);
    }
  }
}

const word = (a: Uint8Array) => (a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!;

test('indexed lookups equal a scan of every policy after any sequence of SPD changes', () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.array(flowArb, { minLength: 1, maxLength: 12 }), (ops, flows) => {
      const x = new Xfrm({ clock: new ManualClock(Date.UTC(2026, 0, 1)) });
      // Lookups between the changes, so a stale index would be caught.
      for (const o of ops) {
        apply(x, o);
        agree(x, flows.slice(0, 3));
      }
      agree(x, flows);
    }),
    { numRuns: 400 },
  );
});

test('an update keeps the replaced policy\'s place among equal priorities, in the exact hash too', () => {
  const x = new Xfrm({ clock: new ManualClock(0) });
  const sel = (src: string) => ({ ...emptySelector(2), daddr: A('10.0.0.1'), saddr: A(src), prefixlenD: 32, prefixlenS: 32 });
  const base = { dir: 1, action: 0, priority: 5, index: 0, flags: 0, tmpls: [], lft: infiniteLifetime() };
  const first = x.addPolicy({ ...base, sel: { ...sel('10.0.0.2'), proto: 6 } });
  const second = x.addPolicy({ ...base, sel: sel('10.0.0.2') });
  const fl: XfrmFlow = { family: 2, daddr: A('10.0.0.1'), saddr: A('10.0.0.2'), proto: 6, sport: 1, dport: 2 };
  assert.equal(x.spd.lookup(fl, 2, 1, 0), first);
  const replaced = x.updatePolicy({ ...base, sel: { ...sel('10.0.0.2'), proto: 6 }, action: 1 });
  assert.equal(replaced.pos, first.pos);
  assert.equal(x.spd.lookup(fl, 2, 1, 0), replaced, 'the update took the first policy\'s place, ahead of the second');
  assert.equal(x.spd.lookup({ ...fl, proto: 17 }, 2, 1, 0), second);
});

test('an inexact policy with a better priority wins over the exact match; an equal one inserted later does not', () => {
  const x = new Xfrm({ clock: new ManualClock(0) });
  const base = { dir: 2, action: 0, index: 0, flags: 0, tmpls: [], lft: infiniteLifetime() };
  const exact = x.addPolicy({ ...base, priority: 10, sel: { ...emptySelector(10), daddr: A('2001:db8::1'), saddr: A('2001:db8::2'), prefixlenD: 128, prefixlenS: 128 } });
  const wide = x.addPolicy({ ...base, priority: 10, sel: { ...emptySelector(10), daddr: A('2001:db8::'), prefixlenD: 32 } });
  const fl: XfrmFlow = { family: 10, daddr: A('2001:db8::1'), saddr: A('2001:db8::2'), proto: 17, sport: 1, dport: 2 };
  assert.equal(x.spd.lookup(fl, 10, 2, 0), exact, 'equal priority: the first inserted');
  const better = x.addPolicy({ ...base, priority: 9, sel: { ...emptySelector(10), saddr: A('2001:db8::'), prefixlenS: 16 } });
  assert.equal(x.spd.lookup(fl, 10, 2, 0), better);
  x.deletePolicy({ dir: 2, index: better.index });
  x.deletePolicy({ dir: 2, index: exact.index });
  assert.equal(x.spd.lookup(fl, 10, 2, 0), wide);
  assert.equal(x.spd.lookup(fl, 10, 1, 0), undefined, 'no policy in another direction');
  assert.equal(x.spd.hasPolicies(2), true);
  assert.equal(x.spd.hasPolicies(0), false);
});

test('a policy edited in place is found by its new selector after reindex()', () => {
  const x = new Xfrm({ clock: new ManualClock(0) });
  const p = x.addPolicy({ dir: 0, action: 0, priority: 1, index: 0, flags: 0, tmpls: [], lft: infiniteLifetime(), sel: { ...emptySelector(2), daddr: A('10.0.0.1'), saddr: A('10.0.0.2'), prefixlenD: 32, prefixlenS: 32 } });
  const fl: XfrmFlow = { family: 2, daddr: A('10.0.0.1'), saddr: A('10.0.1.1'), proto: 6, sport: 1, dport: 2 };
  assert.equal(x.spd.lookup(fl, 2, 0, 0), undefined);
  p.sel.saddr = A('10.0.1.1');
  x.spd.reindex();
  assert.equal(x.spd.lookup(fl, 2, 0, 0), p);
});

test('ten thousand exact host-pair policies (one per tunnel, as IKE daemons install them) all resolve correctly', () => {
  const x = new Xfrm({ clock: new ManualClock(0) });
  const base = { dir: 1, action: 0, index: 0, flags: 0, tmpls: [], lft: infiniteLifetime() };
  const ip = (n: number) => A(`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`);
  const pols: XfrmPolicy[] = [];
  for (let i = 0; i < 10000; i++)
    pols.push(x.addPolicy({ ...base, priority: 100, sel: { ...emptySelector(2), daddr: ip(i + 1), saddr: A('192.0.2.1'), prefixlenD: 32, prefixlenS: 32 } }));
  const catchAll = x.addPolicy({ ...base, priority: 200, sel: emptySelector(2) });
  for (let i = 0; i < 10000; i += 97) {
    const fl: XfrmFlow = { family: 2, daddr: ip(i + 1), saddr: A('192.0.2.1'), proto: 6, sport: 1, dport: 2 };
    assert.equal(x.spd.lookup(fl, 2, 1, 0), pols[i]);
    assert.equal(x.spd.lookup({ ...fl, saddr: A('192.0.2.2') }, 2, 1, 0), catchAll);
  }
});

test('the no-policy shortcuts hold only without policies in that direction, without SAs on the packet and with default accept', () => {
  const x = new Xfrm({ clock: new ManualClock(0) });
  assert.equal(policyCheckPassesAll(x, 2, 0), true);
  assert.equal(policyCheckPassesAll(x, 2, 1), false, 'a decapsulated packet is always checked (a tunnel SA needs a policy)');
  assert.equal(outputBypassesAll(x), true);
  x.addPolicy({ dir: 1, action: 0, priority: 1, index: 0, flags: 0, tmpls: [], lft: infiniteLifetime(), sel: emptySelector(2) });
  assert.equal(outputBypassesAll(x), false);
  assert.equal(policyCheckPassesAll(x, 2, 0), true, 'an out policy does not concern forwarding');
  x.setPolicyDefault({ fwd: 'block', in: 'block' });
  assert.equal(policyCheckPassesAll(x, 2, 0), false);
  assert.equal(policyCheckPassesAll(x, 0, 0), false);
  x.flushPolicies();
  x.setPolicyDefault({ out: 'block' });
  assert.equal(outputBypassesAll(x), false);
});

test('mayMatch4 tells the addresses no policy of a direction can match, and only those', () => {
  const x = new Xfrm({ clock: new ManualClock(0) });
  const base = { action: 0, priority: 2000, index: 0, flags: 0, tmpls: [], lft: infiniteLifetime() };
  const sel = (s: string, ps: number, d: string, pd: number) => ({ ...emptySelector(2), saddr: A(s), prefixlenS: ps, daddr: A(d), prefixlenD: pd });
  // The demo gateway's policies: the office LAN to the branch LANs out, the branch LAN in and forwarded.
  x.addPolicy({ ...base, dir: 1, sel: sel('192.168.1.0', 24, '192.168.2.0', 24) });
  x.addPolicy({ ...base, dir: 2, sel: sel('192.168.2.0', 24, '192.168.1.0', 24) });
  x.addPolicy({ ...base, dir: 2, priority: 1000, sel: sel('192.168.2.128', 25, '192.168.1.0', 24) });
  const ip = (t: string) => word(A(t));
  assert.equal(x.spd.mayMatch4(1, ip('192.168.1.23'), ip('93.184.216.30')), false, 'LAN to the internet: no out policy');
  assert.equal(x.spd.mayMatch4(2, ip('192.168.1.23'), ip('93.184.216.30')), false, 'LAN to the internet: no fwd policy');
  assert.equal(x.spd.mayMatch4(2, ip('93.184.216.30'), ip('192.168.1.23')), false, 'a reply from the internet');
  assert.equal(x.spd.mayMatch4(1, ip('192.168.1.23'), ip('192.168.2.7')), true);
  assert.equal(x.spd.mayMatch4(2, ip('192.168.2.200'), ip('192.168.1.23')), true);
  assert.equal(x.spd.mayMatch4(0, ip('192.168.2.200'), ip('192.168.1.23')), false, 'no in policy at all');
  assert.equal(x.spd.mayMatchNonV4(1), false);
  // An exact (host-to-host) policy is found through the hash, an IPv6 one makes IPv6 flows candidates.
  x.addPolicy({ ...base, dir: 1, sel: sel('10.0.0.1', 32, '10.0.0.2', 32) });
  assert.equal(x.spd.mayMatch4(1, ip('10.0.0.1'), ip('10.0.0.2')), true);
  assert.equal(x.spd.mayMatch4(1, ip('10.0.0.2'), ip('10.0.0.1')), false);
  x.addPolicy({ ...base, dir: 1, sel: { ...emptySelector(10), daddr: A('2001:db8::'), prefixlenD: 32 } });
  assert.equal(x.spd.mayMatchNonV4(1), true);
  assert.equal(x.spd.mayMatchNonV4(2), false);
});
