/**
 * SPD and SAD behaviour on the packet path: policy lookup order, sub before
 * main, marks and if_id, templates resolved to bundles (xfrm_tmpl_resolve),
 * inbound/forward checks (__xfrm_policy_check) and the SA lookups of
 * xfrm_input, each failure counted in its /proc/net/xfrm_stat counter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ManualClock,
  Xfrm,
  emptySelector,
  infiniteLifetime,
  ipXfrm,
  lookupOutput,
  parseAddress,
  policyCheck,
  stateLookupInput,
  type XfrmFlow,
  type XfrmSA,
} from '../src/xfrm/index.js';

const A = (s: string) => parseAddress(s)!.addr;
const AES = '0x000102030405060708090a0b0c0d0e0f';

function host(lines: string[] = []): Xfrm {
  const x = new Xfrm({ clock: new ManualClock(Date.UTC(2026, 0, 1)) });
  for (const l of lines) {
    const r = ipXfrm(l.split(/\s+/), x);
    assert.equal(r.status, 0, `${l}: ${r.stderr}`);
  }
  return x;
}
const flow = (src: string, dst: string, proto = 6, sport = 40000, dport = 22, extra: Partial<XfrmFlow> = {}): XfrmFlow => ({
  family: parseAddress(src)!.family,
  saddr: A(src),
  daddr: A(dst),
  proto,
  sport,
  dport,
  ...extra,
});

test('lookup picks the lowest priority value, and the first inserted among equals (reference model)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ prio: fc.integer({ min: 0, max: 3 }), plen: fc.constantFrom(0, 8, 16, 24), port: fc.constantFrom(0, 22, 80) }), { minLength: 1, maxLength: 12 }),
      fc.constantFrom(22, 80, 443),
      (specs, dport) => {
        const x = host();
        specs.forEach((s, i) => {
          // distinct selectors via the source prefix so every add succeeds
          x.addPolicy({
            sel: { ...emptySelector(2), daddr: A('10.1.2.3'), prefixlenD: s.plen, saddr: A(`172.16.${i}.0`), prefixlenS: 0, proto: s.port ? 6 : 0, dport: s.port, dportMask: s.port ? 0xffff : 0, sport: i, sportMask: 0 },
            dir: 1,
            action: 0,
            priority: s.prio,
            index: 0,
            flags: 0,
            tmpls: [],
            lft: infiniteLifetime(),
          });
        });
        // selectors differ only in masked-out fields (sport with mask 0), so several may be "equal" matches
        const fl = flow('172.16.0.1', '10.1.2.3', 6, 1234, dport);
        const matching = specs.map((s, i) => ({ ...s, i })).filter((s) => s.port === 0 || s.port === dport);
        const want = matching.sort((a, b) => a.prio - b.prio || a.i - b.i)[0];
        const got = x.spd.lookup(fl, 2, 1, 0);
        if (!want) return got === undefined;
        return got !== undefined && got.priority === want.prio && got.sel.sport === want.i;
      },
    ),
    { numRuns: 300 },
  );
});

test('sub policies are consulted before main ones; marks and if_id must match', () => {
  const x = host([
    'policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out priority 1 action block',
    'policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out priority 100 ptype sub',
    'policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out priority 0 mark 0x10 mask 0xf0',
    'policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out priority 0 if_id 5',
  ]);
  const fl = flow('10.0.0.1', '10.0.0.2');
  assert.equal(x.spd.lookup(fl, 2, 1, 0)!.type, 1, 'the sub policy wins despite its priority');
  // allow-all sub policy + main block → the combination blocks (xfrm_expand_policies)
  assert.deepEqual(lookupOutput(x, fl).action, 'drop');
  assert.equal(x.stats.get('XfrmOutPolBlock'), 1);
  x.flushPolicies(1);
  assert.equal(x.spd.lookup(fl, 2, 1, 0)!.priority, 1);
  assert.equal(x.spd.lookup({ ...fl, mark: 0x1f }, 2, 1, 0)!.mark.v, 0x10, 'mark & mask == value');
  assert.equal(x.spd.lookup({ ...fl, mark: 0x2f }, 2, 1, 0)!.priority, 1);
  assert.equal(x.spd.lookup({ ...fl, ifId: 5 }, 2, 1, 5)!.ifId, 5);
  assert.equal(x.spd.lookup({ ...fl, ifId: 6 }, 2, 1, 6), undefined, 'if_id is an exact match');
});

test('templates resolve to a bundle: tunnel uses the template addresses, transport the flow, reqid/spi/mode/proto must fit', () => {
  const x = host([
    'policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 7 mode tunnel',
    'policy add src 10.9.0.1/32 dst 10.9.0.2/32 dir out tmpl proto esp mode transport',
    `state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x10 reqid 8 mode tunnel enc aes ${AES}`,
    `state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x11 reqid 7 mode transport enc aes ${AES}`,
  ]);
  const fl = flow('10.1.0.5', '10.2.0.9');
  let d = lookupOutput(x, fl);
  assert.equal(d.action, 'drop', 'reqid 8 and transport mode do not fit');
  assert.equal(x.stats.get('XfrmOutNoStates'), 1);
  ipXfrm(`state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x12 reqid 7 mode tunnel enc aes ${AES}`.split(' '), x);
  d = lookupOutput(x, fl);
  assert.equal(d.action, 'transform');
  assert.equal(d.action === 'transform' && d.bundle.map((s) => s.spi).join(), '18');
  // transport: the SA's addresses are the flow's
  ipXfrm(`state add src 10.9.0.1 dst 10.9.0.2 proto esp spi 0x20 mode transport enc aes ${AES}`.split(' '), x);
  d = lookupOutput(x, flow('10.9.0.1', '10.9.0.2'));
  assert.equal(d.action === 'transform' && d.bundle[0]!.spi, 0x20);
  // no policy → clear text
  assert.equal(lookupOutput(x, flow('10.5.0.1', '10.6.0.1')).action, 'bypass');
});

test('among fitting SAs the newest wins unless it is dying; the SA selector must admit the flow', () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const x = new Xfrm({ clock });
  const run = (l: string) => assert.equal(ipXfrm(l.split(/\s+/), x).status, 0, l);
  run('policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel');
  run(`state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 1 mode tunnel enc aes ${AES}`);
  clock.advance(5000);
  run(`state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 2 mode tunnel enc aes ${AES}`);
  clock.advance(5000);
  run(`state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 3 mode tunnel enc aes ${AES} sel src 10.1.0.0/16 dst 10.3.0.0/16`);
  const pick = () => {
    const d = lookupOutput(x, flow('10.1.0.5', '10.2.0.9'));
    return d.action === 'transform' ? d.bundle[0]!.spi : -1;
  };
  assert.equal(pick(), 2, 'spi 3 is newer but its selector excludes 10.2/16');
  x.sad.states.find((s) => s.spi === 2)!.dying = true;
  assert.equal(pick(), 1, 'a soft-expired SA loses to a live one');
});

test('level use templates are optional on input; tunnel SAs must be asked for by a policy', () => {
  const x = host([
    'policy add src 10.2.0.0/16 dst 10.1.0.0/16 dir in tmpl src 192.0.2.2 dst 192.0.2.1 proto esp reqid 1 mode tunnel',
    'policy add src 10.2.0.0/16 dst 10.1.0.0/16 dir fwd tmpl proto esp mode transport level use',
    `state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x100 reqid 1 mode tunnel enc aes ${AES}`,
    `state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x101 reqid 2 mode tunnel enc aes ${AES}`,
    `state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x102 reqid 1 mode tunnel enc aes ${AES} sel src 10.7.0.0/16`,
  ]);
  const sa = (spi: number) => x.sad.states.find((s) => s.spi === spi)!;
  const fl = flow('10.2.0.5', '10.1.0.5');
  assert.deepEqual(policyCheck(x, 0, fl, [sa(0x100)]).ok, true);
  // cleartext where a required template exists
  let r = policyCheck(x, 0, fl, []);
  assert.equal(!r.ok && r.counter, 'XfrmInTmplMismatch');
  // reqid 2 does not fit the template
  r = policyCheck(x, 0, fl, [sa(0x101)]);
  assert.equal(!r.ok && r.counter, 'XfrmInTmplMismatch');
  // the SA's selector does not admit this flow
  r = policyCheck(x, 0, fl, [sa(0x102)]);
  assert.equal(!r.ok && r.counter, 'XfrmInStateMismatch');
  // fwd: the optional transport template may be absent...
  assert.equal(policyCheck(x, 2, fl, []).ok, true);
  // ...but an unrequested tunnel SA is refused
  r = policyCheck(x, 2, fl, [sa(0x100)]);
  assert.equal(!r.ok && r.counter, 'XfrmInTmplMismatch');
  // no policy at all: clear text passes, a tunnel SA does not
  const other = flow('10.8.0.1', '10.9.0.1');
  assert.equal(policyCheck(x, 0, other, []).ok, true);
  r = policyCheck(x, 0, { ...other, saddr: A('10.2.0.1') }, [sa(0x100)]);
  assert.equal(!r.ok && r.counter, 'XfrmInNoPols');
  assert.equal(x.stats.get('XfrmInTmplMismatch'), 3);
  assert.equal(x.stats.get('XfrmInStateMismatch'), 1);
  assert.equal(x.stats.get('XfrmInNoPols'), 1);
});

test('block policies and a default-block direction drop with their counters', () => {
  const x = host(['policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir in action block', 'policy setdefault fwd block']);
  let r = policyCheck(x, 0, flow('10.0.0.1', '10.0.0.2'), []);
  assert.equal(!r.ok && r.counter, 'XfrmInPolBlock');
  r = policyCheck(x, 2, flow('11.0.0.1', '11.0.0.2'), []);
  assert.equal(!r.ok && r.counter, 'XfrmInNoPols');
  assert.equal(ipXfrm(['policy', 'getdefault'], x).stdout, 'Default policies:\n in:  accept\n fwd: block\n out: accept\n');
});

test('ICMP errors about protected traffic (RFC 4301 §6): `flag icmp` on SAs and policies', () => {
  const x = host([
    'policy add src 10.2.0.0/16 dst 10.1.0.0/16 dir in tmpl src 192.0.2.2 dst 192.0.2.1 proto esp mode tunnel',
    'policy add src 10.2.0.0/16 dst 10.3.0.0/16 dir fwd tmpl src 192.0.2.2 dst 192.0.2.1 proto esp mode tunnel',
    'policy add src 10.1.0.0/16 dst 10.2.0.0/16 proto udp dir out flag icmp tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel',
    `state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x100 mode tunnel flag icmp enc aes ${AES} sel src 10.2.0.0/16 dst 10.0.0.0/8`,
    `state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x200 mode tunnel enc aes ${AES}`,
  ]);
  const sa = x.sad.states.find((s) => s.spi === 0x100)!;
  // A router 10.99.0.1 behind the peer reports "unreachable" (type 3) about our 10.1.0.5 -> 10.2.0.5.
  const icmp = flow('10.99.0.1', '10.1.0.5', 1, 3, 1);
  const inner = flow('10.2.0.5', '10.1.0.5', 6, 22, 40000); // the quoted packet, reversed
  assert.equal(policyCheck(x, 0, icmp, [sa]).ok, false, 'the SA selector does not cover 10.99.0.1');
  assert.equal(policyCheck(x, 0, icmp, [sa], { icmpInnerFlow: inner }).ok, true);
  // only ICMP gets this treatment
  assert.equal(policyCheck(x, 0, flow('10.99.0.1', '10.1.0.5', 6, 3, 1), [sa], { icmpInnerFlow: inner }).ok, false);
  // forwarding: no fwd policy for the error itself, the quoted flow's is used
  const fwdInner = flow('10.2.0.5', '10.3.0.5', 6, 22, 40000);
  assert.equal(policyCheck(x, 2, flow('10.99.0.1', '10.3.0.5', 1, 11, 0), [sa], { icmpInnerFlow: fwdInner }).ok, true);
  sa.flags = 0;
  assert.equal(policyCheck(x, 0, icmp, [sa], { icmpInnerFlow: inner }).ok, false, 'without flag icmp on the SA');
  // output: an error we send about the peer's traffic takes the tunnel if the policy has flag icmp
  const err = flow('10.1.0.1', '10.2.0.5', 1, 3, 3);
  const quoted = flow('10.1.0.5', '10.2.0.5', 17, 53, 3333);
  assert.equal(lookupOutput(x, err).action, 'bypass');
  const d = lookupOutput(x, err, { icmpInnerFlow: quoted });
  assert.equal(d.action === 'transform' && d.bundle[0]!.spi, 0x200);
  ipXfrm('policy update src 10.1.0.0/16 dst 10.2.0.0/16 proto udp dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel'.split(' '), x);
  assert.equal(lookupOutput(x, err, { icmpInnerFlow: quoted }).action, 'bypass', 'policy without flag icmp');
});

test('a socket policy overrides the SPD for that socket only', () => {
  const x = host(['policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out action block']);
  const fl = flow('10.0.0.1', '10.0.0.2');
  assert.equal(lookupOutput(x, fl).action, 'drop');
  x.setSocketPolicy('ike', 1, { sel: emptySelector(2), dir: 1, action: 0, priority: 0, index: 0, flags: 0, tmpls: [], lft: infiniteLifetime() });
  assert.equal(lookupOutput(x, fl, { sockId: 'ike' }).action, 'bypass', 'IKE traffic bypasses IPsec');
  assert.equal(lookupOutput(x, fl, { sockId: 'other' }).action, 'drop');
  assert.match(ipXfrm(['policy'], x).stdout, /\tsocket out priority 0 ptype main \n/);
  x.setSocketPolicy('ike', 1, null);
  assert.equal(lookupOutput(x, fl, { sockId: 'ike' }).action, 'drop');
  assert.throws(() => x.setSocketPolicy('ike', 2, null), /Invalid argument/);
});

test('input SA lookup by (daddr, SPI, proto, mark) and the xfrm_input state checks', () => {
  const x = host([
    `state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x100 mode tunnel enc aes ${AES}`,
    `state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x101 mode tunnel enc aes ${AES} mark 7`,
    `state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x102 mode tunnel enc aes ${AES} dir out`,
    `state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x103 mode tunnel enc aes ${AES} encap espinudp 4500 4500 0.0.0.0`,
  ]);
  const q = (spi: number, extra: object = {}) => stateLookupInput(x, { family: 2, daddr: A('192.0.2.1'), spi, proto: 50, ...extra });
  assert.equal(q(0x100).counter, null);
  assert.equal(q(0x100).sa!.spi, 0x100);
  assert.equal(q(0x999).counter, 'XfrmInNoStates');
  assert.equal(q(0x100, { proto: 51 }).counter, 'XfrmInNoStates');
  assert.equal(q(0x101).counter, 'XfrmInNoStates', 'a marked SA needs the mark');
  assert.equal(q(0x101, { mark: 7 }).counter, null);
  assert.equal(q(0x102).counter, 'XfrmInStateDirError');
  assert.equal(q(0x103).counter, 'XfrmInStateMismatch', 'UDP-encapsulated SA reached by plain ESP');
  assert.equal(q(0x103, { encapType: 2 }).counter, null);
  assert.equal(q(0x100, { encapType: 2 }).counter, 'XfrmInStateMismatch');
  assert.equal(x.stats.get('XfrmInNoStates'), 3);
});

test('an SA with dir in cannot carry output traffic (XfrmOutStateDirError)', () => {
  const x = host([
    'policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel',
    `state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x10 mode tunnel enc aes ${AES} dir in`,
  ]);
  const d = lookupOutput(x, flow('10.1.0.1', '10.2.0.1'));
  assert.equal(d.action === 'drop' && d.counter, 'XfrmOutStateDirError');
  assert.equal(x.stats.get('XfrmOutStateDirError'), 1);
});

void ({} as XfrmSA);
