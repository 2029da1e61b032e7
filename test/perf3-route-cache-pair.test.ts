/**
 * The path's IPv4 route cache (route-cache.ts) keeps the reverse lookup
 * fib_validate_source() makes on the entry of the input lookup just before
 * it. Whatever the order of lookups and routing changes, every answer must
 * be the one a fresh route() gives for the same flow.
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

function gateway(): Host {
  const h = newHost('perf3');
  ipLines(h, ['link add lan0 type dummy', 'link add wan0 type dummy', 'link add dmz0 type dummy', 'link set lo up',
    'link set lan0 up', 'link set wan0 up', 'link set dmz0 up', 'addr add 192.168.1.1/24 dev lan0', 'addr add 203.0.113.2/24 dev wan0',
    'addr add 10.0.2.1/24 dev dmz0', 'route add default via 203.0.113.1'].join('\n'));
  return h;
}

/** The answer's observable fields (the cache shares result objects; route() makes new ones). */
function view(r: RouteResult): unknown {
  return { type: r.type, errno: r.errno, dev: r.dev?.name, gateway: r.gateway && [...r.gateway], mtu: r.mtu, table: r.table, src: r.src && [...r.src] };
}

const ADDRS = ['192.168.1.23', '192.168.1.42', '203.0.113.9', '10.0.2.80', '198.51.100.9', '203.0.113.2', '192.168.1.1'];
const CHANGES = [
  'route add 198.51.100.0/24 via 10.0.2.80', 'route del 198.51.100.0/24', 'link set dmz0 mtu 1400', 'link set dmz0 mtu 1500',
  'route add unreachable 192.168.1.42/32', 'route del unreachable 192.168.1.42/32', 'route add 203.0.113.9/32 dev lan0 mtu 1280',
  'route del 203.0.113.9/32',
];

test('a forward lookup then its reverse answer as route() does, across routing changes between them', () => {
  // Each step: maybe the input lookup, maybe a routing change, then the reverse lookup of the same packet.
  const step = fc.record({
    s: fc.integer({ min: 0, max: ADDRS.length - 1 }), d: fc.integer({ min: 0, max: ADDRS.length - 1 }), mark: fc.integer({ min: 0, max: 1 }),
    input: fc.boolean(), change: fc.integer({ min: -CHANGES.length, max: CHANGES.length - 1 }),
  });
  fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
    const h = gateway();
    const cache = new RouteCache4(h);
    const hdr = new Uint8Array(20);
    for (const o of steps) {
      const s = Uint8Array.from(ADDRS[o.s]!.split('.').map(Number)), d = Uint8Array.from(ADDRS[o.d]!.split('.').map(Number));
      hdr.set(s, 12); hdr.set(d, 16);
      if (o.input) {
        const fwd: FlowKey = { family: 4, daddr: d, saddr: s, mark: o.mark, iif: 'lan0' };
        assert.deepEqual(view(cache.lookup(hdr, 0, false, 'lan0', o.mark, 0)), view(route(h, fwd)), `input route ${ADDRS[o.s]} > ${ADDRS[o.d]}`);
      }
      if (o.change >= 0) runIp(h, CHANGES[o.change]!.split(/\s+/), { out: () => {}, err: () => {} });
      const rev: FlowKey = { family: 4, daddr: s, saddr: d, mark: o.mark };
      assert.deepEqual(view(cache.lookup(hdr, 0, true, undefined, o.mark, 0)), view(route(h, rev)), `reverse route to ${ADDRS[o.s]} from ${ADDRS[o.d]}`);
    }
  }), { numRuns: 300 });
});
