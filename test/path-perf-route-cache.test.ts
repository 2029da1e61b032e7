/**
 * The path's IPv4 route cache (route-cache.ts) files its answers under a hash
 * of the address pair, one chain per key: flows that differ only in input
 * interface, mark or TOS share a chain, and an answer made stale by an MTU
 * change is unlinked wherever it sits in it. It also keeps the reverse lookup
 * fib_validate_source() makes on the entry of the input lookup just before it.
 * Whatever the order of lookups and routing changes, every answer must be the
 * one a fresh route() gives for the same flow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { newHost } from '../src/host/model.js';
import { runIp } from '../src/host/ip/index.js';
import { route } from '../src/host/fib.js';
import type { FlowKey, RouteResult } from '../src/host/fib.js';
import type { Host } from '../src/host/types.js';
import { RouteCache4 } from '../src/host/path/route-cache.js';
import { ipLines } from '../src/host/path/testing.js';

/** A LAN/WAN/DMZ gateway with a default route, and `extra` routing lines after those. */
function gateway(extra: string[] = []): Host {
  const h = newHost('route-cache');
  ipLines(h, ['link add lan0 type dummy', 'link add wan0 type dummy', 'link add dmz0 type dummy', 'link set lo up',
    'link set lan0 up', 'link set wan0 up', 'link set dmz0 up', 'addr add 192.168.1.1/24 dev lan0', 'addr add 203.0.113.2/24 dev wan0',
    'addr add 10.0.2.1/24 dev dmz0', 'route add default via 203.0.113.1', ...extra].join('\n'));
  return h;
}

/** The answer's observable fields (the cache shares result objects; route() makes new ones). */
function view(r: RouteResult): unknown {
  return { type: r.type, errno: r.errno, dev: r.dev?.name, gateway: r.gateway && [...r.gateway], mtu: r.mtu, table: r.table, src: r.src && [...r.src] };
}

const CHAIN_ADDRS = ['192.168.1.23', '203.0.113.9', '10.0.2.80', '198.51.100.9', '203.0.113.2'];
const IIFS = [undefined, 'lan0', 'wan0'];
const CHAIN_CHANGES = ['link set dmz0 mtu 1400', 'link set dmz0 mtu 1500', 'link set wan0 mtu 1280', 'link set wan0 mtu 1500', 'route add 203.0.113.9/32 dev lan0', 'route del 203.0.113.9/32'];

test('flows sharing an address pair (other interface, mark, TOS) each get the answer route() gives, across MTU and route changes', () => {
  const step = fc.record({
    s: fc.nat(CHAIN_ADDRS.length - 1), d: fc.nat(CHAIN_ADDRS.length - 1), iif: fc.nat(IIFS.length - 1), mark: fc.nat(1), tos: fc.constantFrom(0, 0x10),
    reverse: fc.boolean(), change: fc.integer({ min: -3 * CHAIN_CHANGES.length, max: CHAIN_CHANGES.length - 1 }),
  });
  fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
    const h = gateway(['route add 198.51.100.0/24 via 10.0.2.80 tos 0x10', 'rule add fwmark 1 table 100', 'route add default via 10.0.2.80 table 100',
      'rule add iif wan0 table 200', 'route add default via 192.168.1.254 table 200']);
    const cache = new RouteCache4(h);
    const hdr = new Uint8Array(20);
    for (const o of steps) {
      const s = Uint8Array.from(CHAIN_ADDRS[o.s]!.split('.').map(Number)), d = Uint8Array.from(CHAIN_ADDRS[o.d]!.split('.').map(Number));
      hdr.set(s, 12); hdr.set(d, 16);
      const iif = IIFS[o.iif];
      const flow: FlowKey = o.reverse ? { family: 4, daddr: s, saddr: d, mark: o.mark } : { family: 4, daddr: d, saddr: s, mark: o.mark };
      if (iif !== undefined) flow.iif = iif;
      if (o.tos !== 0) flow.tos = o.tos;
      const got = cache.lookup(hdr, 0, o.reverse, iif, o.mark, o.tos);
      assert.deepEqual(view(got), view(route(h, flow)), `${o.reverse ? 'reverse' : 'input'} ${CHAIN_ADDRS[o.s]} > ${CHAIN_ADDRS[o.d]} iif ${iif} mark ${o.mark} tos ${o.tos}`);
      if (o.change >= 0) runIp(h, CHAIN_CHANGES[o.change]!.split(/\s+/), { out: () => {}, err: () => {} });
    }
  }), { numRuns: 300 });
});

const PAIR_ADDRS = ['192.168.1.23', '192.168.1.42', '203.0.113.9', '10.0.2.80', '198.51.100.9', '203.0.113.2', '192.168.1.1'];
const PAIR_CHANGES = [
  'route add 198.51.100.0/24 via 10.0.2.80', 'route del 198.51.100.0/24', 'link set dmz0 mtu 1400', 'link set dmz0 mtu 1500',
  'route add unreachable 192.168.1.42/32', 'route del unreachable 192.168.1.42/32', 'route add 203.0.113.9/32 dev lan0 mtu 1280',
  'route del 203.0.113.9/32',
];

test('a forward lookup then its reverse answer as route() does, across routing changes between them', () => {
  // Each step: maybe the input lookup, maybe a routing change, then the reverse lookup of the same packet.
  const step = fc.record({
    s: fc.integer({ min: 0, max: PAIR_ADDRS.length - 1 }), d: fc.integer({ min: 0, max: PAIR_ADDRS.length - 1 }), mark: fc.integer({ min: 0, max: 1 }),
    input: fc.boolean(), change: fc.integer({ min: -PAIR_CHANGES.length, max: PAIR_CHANGES.length - 1 }),
  });
  fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
    const h = gateway();
    const cache = new RouteCache4(h);
    const hdr = new Uint8Array(20);
    for (const o of steps) {
      const s = Uint8Array.from(PAIR_ADDRS[o.s]!.split('.').map(Number)), d = Uint8Array.from(PAIR_ADDRS[o.d]!.split('.').map(Number));
      hdr.set(s, 12); hdr.set(d, 16);
      if (o.input) {
        const fwd: FlowKey = { family: 4, daddr: d, saddr: s, mark: o.mark, iif: 'lan0' };
        assert.deepEqual(view(cache.lookup(hdr, 0, false, 'lan0', o.mark, 0)), view(route(h, fwd)), `input route ${PAIR_ADDRS[o.s]} > ${PAIR_ADDRS[o.d]}`);
      }
      if (o.change >= 0) runIp(h, PAIR_CHANGES[o.change]!.split(/\s+/), { out: () => {}, err: () => {} });
      const rev: FlowKey = { family: 4, daddr: s, saddr: d, mark: o.mark };
      assert.deepEqual(view(cache.lookup(hdr, 0, true, undefined, o.mark, 0)), view(route(h, rev)), `reverse route to ${PAIR_ADDRS[o.s]} from ${PAIR_ADDRS[o.d]}`);
    }
  }), { numRuns: 300 });
});
