/** The FIB as a spec: longest prefix, metrics, TOS, rules with fwmark, source selection. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newHost } from '../src/host/model.js';
import { runIp } from '../src/host/ip/index.js';
import { route } from '../src/host/fib.js';
import { formatAddr, parseAddr } from '../src/host/inet.js';
import type { Host } from '../src/host/types.js';

function ip(host: Host, line: string): void {
  let err = '';
  const status = runIp(host, line.split(/\s+/), { out: () => {}, err: (t) => { err += t; } });
  assert.equal(status, 0, `ip ${line}: ${err}`);
}

function host(...lines: string[]): Host {
  const h = newHost('fibtest');
  for (const l of lines) ip(h, l);
  return h;
}

function expectRoute(h: Host, dst: string, want: { type?: string; dev?: string; via?: string; src?: string; table?: number },
  flow: { mark?: number; iif?: string; saddr?: string } = {}): void {
  const daddr = parseAddr(dst)!;
  const res = route(h, {
    family: daddr.length === 4 ? 4 : 6, daddr, ...(flow.mark !== undefined ? { mark: flow.mark } : {}),
    ...(flow.iif ? { iif: flow.iif } : {}), ...(flow.saddr ? { saddr: parseAddr(flow.saddr)! } : {}),
  });
  if (want.type) assert.equal(res.type, want.type, `type for ${dst}`);
  if (want.dev) assert.equal(res.dev?.name, want.dev, `dev for ${dst}`);
  if (want.via !== undefined) assert.equal(res.gateway ? formatAddr(res.gateway) : '', want.via, `gateway for ${dst}`);
  if (want.src) assert.equal(res.src ? formatAddr(res.src) : '', want.src, `src for ${dst}`);
  if (want.table !== undefined) assert.equal(res.table, want.table, `table for ${dst}`);
}

const LAN_WAN = [
  'link add lan0 type veth peer name lan1', 'link add wan0 type veth peer name wan1',
  'link set lo up', 'link set lan0 up', 'link set lan1 up', 'link set wan0 up', 'link set wan1 up',
  'addr add 192.168.1.1/24 dev lan0', 'addr add 203.0.113.2/24 dev wan0', 'addr add 2001:db8:1::1/64 dev lan0',
  'route add default via 203.0.113.1',
];

test('the longest prefix wins over a shorter one and over the default route', () => {
  const h = host(...LAN_WAN, 'route add 10.0.0.0/8 via 192.168.1.254', 'route add 10.1.0.0/16 via 203.0.113.9');
  expectRoute(h, '10.1.2.3', { type: 'unicast', dev: 'wan0', via: '203.0.113.9', src: '203.0.113.2' });
  expectRoute(h, '10.2.0.1', { dev: 'lan0', via: '192.168.1.254', src: '192.168.1.1' });
  expectRoute(h, '8.8.8.8', { dev: 'wan0', via: '203.0.113.1' });
  expectRoute(h, '192.168.1.77', { dev: 'lan0', via: '', src: '192.168.1.1' });
});

test('`route replace` is seen by the next lookup, even when the lookup index was built during the replace', () => {
  // Regression: the gateway check of `replace` built the FIB index from the routes before the
  // swap, stamped with the new seq; the route swapped in place then went unseen.
  const h = host(...LAN_WAN);
  expectRoute(h, '8.8.8.8', { via: '203.0.113.1' });
  ip(h, 'route replace default via 203.0.113.9');
  expectRoute(h, '8.8.8.8', { via: '203.0.113.9' });
});

test('among equal prefixes the lowest metric wins', () => {
  const h = host(...LAN_WAN, 'route add 10.0.0.0/8 via 192.168.1.254 metric 20', 'route add 10.0.0.0/8 via 203.0.113.9 metric 10');
  expectRoute(h, '10.9.9.9', { dev: 'wan0', via: '203.0.113.9' });
  ip(h, 'route del 10.0.0.0/8 metric 10');
  expectRoute(h, '10.9.9.9', { dev: 'lan0', via: '192.168.1.254' });
});

test('own addresses and subnet broadcasts are local and broadcast', () => {
  const h = host(...LAN_WAN);
  expectRoute(h, '192.168.1.1', { type: 'local', table: 255 });
  expectRoute(h, '192.168.1.255', { type: 'broadcast', dev: 'lan0' });
  expectRoute(h, '127.0.0.1', { type: 'local', dev: 'lo' });
  expectRoute(h, '2001:db8:1::1', { type: 'local' });
});

test('reject routes and a missing route answer with the kernel errors', () => {
  const h = host(...LAN_WAN, 'route add blackhole 10.66.0.0/16', 'route add prohibit 10.67.0.0/16', 'route add unreachable 10.68.0.0/16');
  const look = (d: string) => route(h, { family: 4, daddr: parseAddr(d)! });
  assert.deepEqual([look('10.66.0.1').type, look('10.66.0.1').errno], ['blackhole', 'EINVAL']);
  assert.deepEqual([look('10.67.0.1').type, look('10.67.0.1').errno], ['prohibit', 'EACCES']);
  assert.deepEqual([look('10.68.0.1').type, look('10.68.0.1').errno], ['unreachable', 'EHOSTUNREACH']);
  const bare = host('link add a type veth peer name b');
  assert.equal(route(bare, { family: 4, daddr: parseAddr('8.8.8.8')! }).errno, 'ENETUNREACH');
});

test('fwmark rules steer marked packets to another table; the mask applies', () => {
  const h = host(...LAN_WAN, 'route add default via 192.168.1.254 table 100', 'rule add fwmark 0x10/0xf0 table 100 pref 100');
  expectRoute(h, '8.8.8.8', { via: '192.168.1.254', table: 100 }, { mark: 0x13 });
  expectRoute(h, '8.8.8.8', { via: '203.0.113.1', table: 254 }, { mark: 0x23 });
  expectRoute(h, '8.8.8.8', { via: '203.0.113.1' });
});

test('rules match on iif and from; a throw route falls through; not inverts the whole match', () => {
  const h = host(...LAN_WAN, 'route add default via 192.168.1.254 table 7', 'route add throw 10.0.0.0/8 table 7',
    'rule add iif lan1 table 7 pref 10', 'rule add not from 203.0.113.0/24 iif wan1 prohibit pref 20');
  expectRoute(h, '8.8.8.8', { via: '192.168.1.254', table: 7 }, { iif: 'lan1' });
  // Thrown out of table 7, the packet meets rule 20, whose inverted match holds for iif lan1.
  expectRoute(h, '10.1.1.1', { type: 'prohibit' }, { iif: 'lan1' });
  expectRoute(h, '8.8.8.8', { type: 'prohibit' }, { iif: 'wan1', saddr: '198.51.100.7' });
  expectRoute(h, '8.8.8.8', { type: 'unicast' }, { iif: 'wan1', saddr: '203.0.113.50' });
});

test('IPv6: longest prefix, link-local next hops and RFC 6724 source selection', () => {
  const h = host(...LAN_WAN, '-6 route add default via fe80::1 dev wan0', '-6 route add 2001:db8:9::/48 via 2001:db8:1::fe');
  expectRoute(h, '2001:db8:9::5', { dev: 'lan0', via: '2001:db8:1::fe', src: '2001:db8:1::1' });
  expectRoute(h, '2606:4700::1', { dev: 'wan0', via: 'fe80::1', src: '2001:db8:1::1' });
  expectRoute(h, '2001:db8:1::99', { dev: 'lan0', via: '' });
});

test('a link going down takes its routes; coming up brings the connected ones back', () => {
  const h = host(...LAN_WAN, 'route add 10.0.0.0/8 via 192.168.1.254');
  ip(h, 'link set lan0 down');
  expectRoute(h, '10.1.1.1', { dev: 'wan0', via: '203.0.113.1' });
  ip(h, 'link set lan0 up');
  expectRoute(h, '192.168.1.9', { dev: 'lan0' });
  expectRoute(h, '10.1.1.1', { dev: 'wan0' }); // the static route is gone, as in Linux
});

function ipStatus(h: Host, line: string): { status: number; err: string } {
  let err = '';
  const status = runIp(h, line.split(/\s+/), { out: () => {}, err: (t) => { err += t; } });
  return { status, err };
}

test('route del: IPv4 matches type and metrics (fib_table_delete), IPv6 only metric/proto/dev/gateway (ip6_route_del)', () => {
  // Found by the host-kernel differential with random seeds.
  const h = host('link set lo up', 'link add d0 type dummy', 'link set d0 up', 'route add prohibit default metric 1');
  assert.deepEqual(ipStatus(h, 'route del default mtu 1400'), { status: 2, err: 'RTNETLINK answers: No such process\n' });
  assert.deepEqual(ipStatus(h, 'route del blackhole default'), { status: 2, err: 'RTNETLINK answers: No such process\n' });
  ip(h, 'route del default');
  ip(h, '-6 route add unreachable 2001:db8:9::/48');
  ip(h, '-6 route del prohibit 2001:db8:9::/48');
  assert.ok(!h.routes.some((r) => r.family === 6 && r.plen === 48), 'the unreachable route is gone');
});

test('IPv6 route append beside a reject route of the same metric is linked in after it (fib6_add_rt2)', () => {
  const h = host('link set lo up', 'link add d0 type dummy', 'link set d0 up', '-6 route add unreachable 2001:db8:9::/48');
  ip(h, '-6 route append 2001:db8:9::/48 dev d0');
  assert.equal(h.routes.filter((r) => r.family === 6 && r.plen === 48).length, 2);
  expectRoute(h, '2001:db8:9::1', { type: 'unreachable' });
  assert.deepEqual(ipStatus(h, '-6 route append 2001:db8:9::/48 dev d0'), { status: 2, err: 'RTNETLINK answers: File exists\n' });
  assert.deepEqual(ipStatus(h, '-6 route add 2001:db8:9::/48 dev d0 metric 1024'), { status: 2, err: 'RTNETLINK answers: File exists\n' });
});
