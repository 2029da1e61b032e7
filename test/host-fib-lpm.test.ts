/**
 * The FIB's lookup structure (per-table prefix-length hashes, fib.ts) answers
 * exactly as comparing every route does, and the path's route cache
 * (route-cache.ts) forgets its answers when the host's routing changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { newHost } from '../src/host/model.js';
import { runIp } from '../src/host/ip/index.js';
import { tableLookup } from '../src/host/fib.js';
import type { FlowKey } from '../src/host/fib.js';
import { prefixMatch } from '../src/host/inet.js';
import type { Host, Route } from '../src/host/types.js';
import { HostPath } from '../src/host/path/index.js';
import { ether, ETHERTYPE_IPV4, ipv4, IPPROTO_UDP, mac, addr, udp } from '../src/packet/pcap/synthetic.js';

function ip(host: Host, line: string): void {
  let err = '';
  const status = runIp(host, line.split(/\s+/), { out: () => {}, err: (t) => { err += t; } });
  assert.equal(status, 0, `ip ${line}: ${err}`);
}

/** The definition: the longest usable prefix, then TOS (IPv4), metric, insertion order. */
function referenceLookup(host: Host, table: number, flow: FlowKey): Route | 'throw' | undefined {
  let best: Route | undefined;
  for (const r of host.routes) {
    if (r.family !== flow.family || r.table !== table || !prefixMatch(r.dst, r.plen, flow.daddr)) continue;
    if (r.tos && r.tos !== (flow.tos ?? 0)) continue;
    if (flow.scope !== undefined && r.scope < flow.scope) continue;
    const better = !best || r.plen > best.plen || (r.plen === best.plen &&
      (r.family === 4 && r.tos !== best.tos ? r.tos > best.tos : r.metric !== best.metric ? r.metric < best.metric : r.seq < best.seq));
    if (better) best = r;
  }
  return best?.type === 'throw' ? 'throw' : best;
}

function fibHost(): Host {
  const h = newHost('lpm');
  for (const l of ['link add d0 type dummy', 'link add d1 type dummy', 'link set lo up', 'link set d0 up', 'link set d1 up',
    'addr add 10.0.0.1/8 dev d0', 'addr add 2001:db8::1/32 dev d1']) ip(h, l);
  return h;
}

test('the prefix-length hashes pick the same route as a scan of every route (IPv4 and IPv6, tos, metrics, throw)', () => {
  const v4 = fc.record({
    a: fc.integer({ min: 0, max: 3 }), b: fc.integer({ min: 0, max: 3 }), plen: fc.integer({ min: 0, max: 32 }),
    metric: fc.integer({ min: 0, max: 3 }), tos: fc.constantFrom(0, 0, 4, 8), type: fc.constantFrom('unicast', 'unicast', 'blackhole', 'throw'),
  });
  fc.assert(fc.property(fc.array(v4, { maxLength: 24 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.constantFrom(0, 4, 8)), { minLength: 1, maxLength: 8 }),
    (routes, probes) => {
      const h = fibHost();
      for (const r of routes) {
        const dst = `10.${r.a}.${r.b}.0/${r.plen}`;
        const kind = r.type === 'unicast' ? '' : `${r.type} `;
        const dev = r.type === 'unicast' ? ' dev d0' : '';
        // Duplicates are refused (EEXIST), as by the kernel: only what was added counts.
        runIp(h, `route add ${kind}${dst}${dev} metric ${r.metric}${r.tos ? ` tos ${r.tos}` : ''} table 100`.split(/\s+/), { out: () => {}, err: () => {} });
      }
      for (const [a, b, tos] of probes) {
        const flow: FlowKey = { family: 4, daddr: Uint8Array.of(10, a, b, 7), tos };
        assert.equal(tableLookup(h, 100, flow), referenceLookup(h, 100, flow));
      }
    }), { numRuns: 200 });
  fc.assert(fc.property(fc.array(fc.record({ w: fc.integer({ min: 0, max: 3 }), plen: fc.integer({ min: 0, max: 128 }), metric: fc.integer({ min: 1, max: 3 }) }), { maxLength: 20 }),
    fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 }), (routes, probes) => {
      const h = fibHost();
      for (const r of routes) runIp(h, `route add 2001:db8:${r.w}::/${r.plen} dev d1 metric ${r.metric} table 100`.split(/\s+/), { out: () => {}, err: () => {} });
      for (const w of probes) {
        const daddr = new Uint8Array(16);
        daddr.set([0x20, 0x01, 0x0d, 0xb8, 0, w]);
        daddr[15] = 9;
        assert.equal(tableLookup(h, 100, { family: 6, daddr }), referenceLookup(h, 100, { family: 6, daddr }));
      }
    }), { numRuns: 100 });
});

test('a live path follows route changes made under it (the route cache is dropped on any routing change)', () => {
  const h = newHost('cache');
  for (const l of ['link add lan0 type dummy', 'link add wan0 type dummy', 'link add dmz0 type dummy', 'link set lo up',
    'link set lan0 up', 'link set wan0 up', 'link set dmz0 up', 'addr add 192.168.1.1/24 dev lan0', 'addr add 203.0.113.2/24 dev wan0',
    'addr add 10.0.2.1/24 dev dmz0', 'route add default via 203.0.113.1']) ip(h, l);
  h.sysctl.set('net.ipv4.ip_forward', '1');
  h.sysctl.set('net.ipv4.conf.all.forwarding', '1');
  for (const d of ['lo', 'lan0', 'wan0', 'dmz0']) h.sysctl.set(`net.ipv4.conf.${d}.forwarding`, '1');
  const path = new HostPath(h, { detail: false });
  const src = addr('192.168.1.23'), dst = addr('198.51.100.9');
  const frame = ether(h.links.find((l) => l.name === 'lan0')!.mac, mac('02:00:00:00:01:23'), ETHERTYPE_IPV4,
    ipv4(src, dst, IPPROTO_UDP, udp(src, dst, 5000, 53, new Uint8Array(4))));
  const out = (): string => path.receive('lan0', frame).emitted.map((e) => e.dev).join(',');
  assert.equal(out(), 'wan0');
  ip(h, 'route add 198.51.100.0/24 via 10.0.2.80');
  assert.equal(out(), 'dmz0', 'a more specific route added under the path');
  const big = ether(h.links.find((l) => l.name === 'lan0')!.mac, mac('02:00:00:00:01:23'), ETHERTYPE_IPV4,
    ipv4(src, dst, IPPROTO_UDP, udp(src, dst, 5000, 53, new Uint8Array(200)), { df: true }));
  assert.equal(path.receive('lan0', big).fate, 'forwarded', 'fits the MTU of 1500');
  ip(h, 'link set dmz0 mtu 100');
  const tooBig = path.receive('lan0', big);
  assert.equal(tooBig.fate, 'dropped', 'the path MTU follows the device');
  assert.equal(tooBig.reason, 'PKT_TOO_BIG');
  ip(h, 'route del 198.51.100.0/24');
  assert.equal(out(), 'wan0', 'the route removed again');
  ip(h, 'route add unreachable 198.51.100.9/32');
  const o = path.receive('lan0', frame);
  assert.equal(o.fate, 'dropped');
  assert.equal(o.reason, 'IP_INADDRERRORS');
});
