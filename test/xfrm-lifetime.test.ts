/**
 * Events a key manager (an IKE daemon) sees, on a virtual clock: acquires and
 * the larval state that holds back further acquires, soft and hard expiry by
 * time (add and use) and by bytes/packets, NAT-T mapping changes, policy
 * expiry; and the /proc/net/xfrm_stat text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ManualClock,
  Xfrm,
  XFRM_MIB_NAMES,
  checkNatMapping,
  formatXfrmEvent,
  formatXfrmStat,
  inputCheckExpire,
  ipXfrm,
  lookupOutput,
  nextDeadline,
  outputStateCheck,
  parseAddress,
  stateAccount,
  tick,
  type XfrmEvent,
  type XfrmFlow,
} from '../src/xfrm/index.js';

const A = (s: string) => parseAddress(s)!.addr;
const AES = '0x000102030405060708090a0b0c0d0e0f';
const T0 = Date.UTC(2026, 10, 28, 4, 0, 0);

function setup(lines: string[]) {
  const clock = new ManualClock(T0);
  const x = new Xfrm({ clock });
  const events: XfrmEvent[] = [];
  for (const l of lines) {
    const r = ipXfrm(l.split(/\s+/), x);
    assert.equal(r.status, 0, `${l}: ${r.stderr}`);
  }
  return { x, clock, events, listen: (groups?: Parameters<Xfrm['events']['subscribe']>[1]) => x.events.subscribe((e) => events.push(e), groups) };
}
const flow: XfrmFlow = { family: 2, saddr: A('10.1.0.5'), daddr: A('10.2.0.9'), proto: 6, sport: 40000, dport: 22 };
const POLICY = 'policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 4 mode tunnel';

test('no SA and no key manager listening: the packet is dropped, nothing is created (km_query fails)', () => {
  const { x } = setup([POLICY]);
  for (let i = 0; i < 3; i++) assert.equal(lookupOutput(x, flow).action, 'drop');
  assert.equal(x.stats.get('XfrmOutNoStates'), 3);
  assert.equal(x.sad.count, 0);
});

test('with a listener: one ACQUIRE, a larval SA blocks further acquires until it expires (30 s)', () => {
  const { x, clock, events, listen } = setup([POLICY]);
  listen(['acquire', 'expire']);
  assert.equal(lookupOutput(x, flow).action, 'drop');
  assert.equal(lookupOutput(x, flow).action, 'drop');
  assert.equal(events.length, 1);
  const acq = events[0]!;
  assert.equal(acq.type, 'acquire');
  assert.equal(
    formatXfrmEvent(acq, { stats: 0 }),
    'acquire proto esp \n' +
      '  sel src 10.1.0.5/32 dst 10.2.0.9/32 proto tcp sport 40000 dport 22 \n' +
      '  policy src 10.1.0.0/16 dst 10.2.0.0/16 \n' +
      '    \tdir out priority 0 ptype main \n' +
      '    \ttmpl src 192.0.2.1 dst 192.0.2.2\n' +
      '    \t\tproto esp reqid 4 mode tunnel\n' +
      '\n',
  );
  // The larval state is listed with SPI 0, as `ip xfrm state` shows it.
  assert.match(ipXfrm(['state'], x).stdout, /^src 192.0.2.1 dst 192.0.2.2\n\tproto esp spi 0x00000000 reqid 4 mode tunnel\n\treplay-window 0 \n\tanti-replay context: [^\n]+\n\tdir out\n\tsel src 10.1.0.5\/32 dst 10.2.0.9\/32 proto tcp sport 40000 dport 22 \n$/);
  assert.equal(nextDeadline(x), T0 + 30_000);
  clock.advance(29_000);
  tick(x);
  assert.equal(x.sad.count, 1);
  clock.advance(1_000);
  tick(x);
  assert.equal(x.sad.count, 0, 'xfrm_acq_expires elapsed');
  assert.equal(events[1]!.type, 'expire');
  assert.match(formatXfrmEvent(events[1]!, { stats: 0 }), /^Expired src 192.0.2.1 dst 192.0.2.2\n[^]*\thard 1\n$/);
  lookupOutput(x, flow);
  assert.equal(events.filter((e) => e.type === 'acquire').length, 2, 'a new acquire after the larval SA went away');
});

test('the SA answering an acquire replaces the larval state', () => {
  const { x, listen } = setup([POLICY]);
  listen();
  lookupOutput(x, flow);
  assert.equal(x.sad.states[0]!.kmState, 'acq');
  const r = ipXfrm(`state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x77 reqid 4 mode tunnel enc aes ${AES}`.split(' '), x);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(x.sad.states.map((s) => [s.spi, s.kmState]), [[0x77, 'valid']]);
  const d = lookupOutput(x, flow);
  assert.equal(d.action === 'transform' && d.bundle[0]!.spi, 0x77);
});

test('soft then hard expiry on add time; the SA is gone after the hard limit', () => {
  const { x, clock, events, listen } = setup([`state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 1 enc aes ${AES} limit time-soft 60 limit time-hard 90`]);
  listen(['expire']);
  assert.equal(nextDeadline(x), T0 + 60_000);
  clock.advance(59_999);
  tick(x);
  assert.equal(events.length, 0);
  clock.advance(1);
  tick(x);
  assert.deepEqual(events.map((e) => e.type === 'expire' && e.hard), [false]);
  assert.equal(x.sad.states[0]!.dying, true);
  tick(x);
  assert.equal(events.length, 1, 'soft expiry is reported once');
  assert.equal(nextDeadline(x), T0 + 90_000);
  clock.set(T0 + 90_000);
  tick(x);
  assert.deepEqual(events.map((e) => e.type === 'expire' && e.hard), [false, true]);
  assert.equal(x.sad.count, 0);
  assert.equal(nextDeadline(x), null);
  assert.match(formatXfrmEvent(events[0]!, { stats: 0 }), /^Expired src 192.0.2.1 dst 192.0.2.2\n\tproto esp spi 0x00000001 reqid 0 mode transport\n\treplay-window 0 \n\tsel src 0.0.0.0\/0 dst 0.0.0.0\/0 \n\thard 0\n$/);
});

test('use-time limits count from the first packet', () => {
  const { x, clock, events, listen } = setup([`state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 1 enc aes ${AES} limit time-use-hard 10`]);
  listen();
  const sa = x.sad.states[0]!;
  clock.advance(100_000);
  tick(x);
  assert.equal(x.sad.count, 1, 'never used: no use-time expiry');
  assert.equal(outputStateCheck(x, sa), null);
  stateAccount(x, sa, 100);
  assert.equal(sa.curlft.useTime, Math.floor((T0 + 100_000) / 1000));
  assert.equal(nextDeadline(x), T0 + 110_000);
  clock.advance(10_000);
  tick(x);
  assert.equal(x.sad.count, 0);
  assert.equal(events.at(-1)!.type, 'expire');
});

test('byte and packet limits: soft marks dying once, hard kills the SA and counts the packet as expired', () => {
  const { x, events, listen } = setup([`state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 1 enc aes ${AES} limit byte-soft 250 limit packet-hard 4`]);
  listen(['expire']);
  const sa = x.sad.states[0]!;
  for (let i = 0; i < 3; i++) {
    assert.equal(outputStateCheck(x, sa), null);
    stateAccount(x, sa, 100);
  }
  assert.equal(outputStateCheck(x, sa), null, 'the soft limit passed: warn, still usable');
  assert.deepEqual(events.map((e) => e.type === 'expire' && e.hard), [false]);
  stateAccount(x, sa, 100);
  assert.equal(outputStateCheck(x, sa), 'XfrmOutStateExpired');
  assert.deepEqual(events.map((e) => e.type === 'expire' && e.hard), [false, true]);
  assert.equal(x.sad.count, 0);
  assert.equal(x.stats.get('XfrmOutStateExpired'), 1);
  // the same on input
  const y = setup([`state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 2 enc aes ${AES} limit byte-hard 10`]).x;
  const s2 = y.sad.states[0]!;
  assert.equal(inputCheckExpire(y, s2), true);
  stateAccount(y, s2, 10);
  assert.equal(inputCheckExpire(y, s2), false);
  assert.equal(y.stats.get('XfrmInStateExpired'), 1);
  // and a dead SA on output counts as invalid
  assert.equal(outputStateCheck(y, s2), 'XfrmOutStateInvalid');
});

test('NAT-T: a new peer address or port sends a MAPPING event; monitor prints it as iproute2', () => {
  const { x, events, listen } = setup([`state add src 198.51.100.7 dst 192.0.2.1 proto esp spi 0xc001 reqid 9 mode tunnel enc aes ${AES} encap espinudp 4500 4500 0.0.0.0`]);
  listen(['mapping']);
  const sa = x.sad.states[0]!;
  assert.equal(checkNatMapping(x, sa, A('198.51.100.7'), 4500), false);
  assert.equal(checkNatMapping(x, sa, A('198.51.100.7'), 31000), true);
  assert.equal(checkNatMapping(x, sa, A('203.0.113.9'), 4500), true);
  assert.equal(events.length, 2);
  assert.equal(
    formatXfrmEvent(events[0]!, { stats: 0 }),
    'Mapping change 198.51.100.7:4500 -> 198.51.100.7:31000\n\tdst 192.0.2.1  reqid 0x9 protocol esp  SPI 0xc001\n',
  );
  assert.match(ipXfrm(['monitor'], x).stdout, /Mapping change 198.51.100.7:4500 -> 203.0.113.9:4500\n/);
});

test('policy lifetimes: soft warnings every 30 s, hard expiry deletes the policy', () => {
  const { x, clock, events, listen } = setup(['policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out limit time-soft 10 limit time-hard 100']);
  listen(['expire']);
  clock.advance(10_000);
  tick(x);
  clock.advance(10_000);
  tick(x);
  clock.advance(20_000);
  tick(x);
  assert.deepEqual(events.map((e) => e.type === 'polexpire' && e.hard), [false, false]);
  clock.set(T0 + 100_000);
  tick(x);
  assert.deepEqual(events.map((e) => e.type === 'polexpire' && e.hard), [false, false, true]);
  assert.equal(x.spd.policies.length, 0);
  assert.equal(formatXfrmEvent(events[2]!, { stats: 0 }), 'Expired src 10.0.0.0/8 dst 10.0.0.0/8 \n\tdir out priority 0 ptype main \n\thard 1\n');
});

test('/proc/net/xfrm_stat: every counter of the current kernel, "%-24s\\t%lu"', () => {
  const { x } = setup([]);
  x.stats.inc('XfrmInNoStates', 12);
  x.stats.inc('XfrmOutNoQueueSpace');
  const text = formatXfrmStat(x);
  const lines = text.split('\n');
  assert.equal(lines.length, XFRM_MIB_NAMES.length + 1);
  assert.equal(lines[0], 'XfrmInError             \t0');
  assert.equal(lines[3], 'XfrmInNoStates          \t12');
  assert.equal(lines[31], 'XfrmOutNoQueueSpace     \t1');
  assert.deepEqual(XFRM_MIB_NAMES.slice(-6), [
    'XfrmOutStateInvalid',
    'XfrmAcquireError',
    'XfrmOutStateDirError',
    'XfrmInStateDirError',
    'XfrmInIptfsError',
    'XfrmOutNoQueueSpace',
  ]);
});
