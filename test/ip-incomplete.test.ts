/**
 * `nfx ip` on a command line that stops too early answers as iproute2 6.1 does: a keyword
 * without its value is incomplete_command() (lib/utils.c: `Command line is not complete. Try
 * option "help"`, exit(-1) = 255); a route without a destination prints a usage (iproute.c's
 * first line, then nfx's own summary) and exits 255; `link set|del` without a device exits
 * 255; `addr add`, `rule add|del` and the flushes without arguments exit 1. Each case is
 * checked against fixed expectations and, where `unshare` and iproute2's `ip` can run (root),
 * against the real `ip` in a fresh namespace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { runIp } from '../src/host/ip/index.js';
import { newHost } from '../src/host/model.js';
import { IP_ROUTE_USAGE } from '../src/host/ip/route-usage.js';

const INCOMPLETE = 'Command line is not complete. Try option "help"\n';

interface Outcome { status: number; err: string }

/** nfx's `ip ARGV` on a fresh host (only lo, as a new namespace has). */
function nfxIp(argv: string[]): Outcome {
  let err = '';
  const status = runIp(newHost('incomplete'), argv, { out: () => {}, err: (t) => { err += t; } });
  return { status, err };
}

/** The real `ip ARGV` in a namespace of its own, or why it cannot run here. */
function realIp(argv: string[]): Outcome | string {
  if (process.getuid?.() !== 0) return 'not root';
  const r = spawnSync('unshare', ['-n', 'ip', ...argv], { encoding: 'utf8' });
  if (r.error) return `unshare: ${r.error.message}`;
  if (r.status === 1 && /unshare failed|Operation not permitted/.test(r.stderr)) return `unshare -n: ${r.stderr.trim()}`;
  return { status: r.status ?? -1, err: r.stderr };
}

const realUsable = (() => {
  const probe = realIp(['link', 'show', 'lo']);
  return typeof probe === 'string' ? probe : probe.status === 0 ? true : `ip link show lo exited ${probe.status}: ${probe.err.trim()}`;
})();

/** [command line, exit status, stderr] as iproute2 6.1 gives them. */
const CASES: [string, number, string][] = [
  // NEXT_ARG() after a keyword: incomplete_command().
  ['route add 10.0.0.0/8 via', 255, INCOMPLETE],
  ['route add 10.0.0.0/8 dev', 255, INCOMPLETE],
  ['route add 10.0.0.0/8 table', 255, INCOMPLETE],
  ['route add 10.0.0.0/8 via 10.0.0.1 metric', 255, INCOMPLETE],
  ['route show table', 255, INCOMPLETE],
  ['route get 10.0.0.1 from', 255, INCOMPLETE],
  ['link add name', 255, INCOMPLETE],
  ['link add foo type', 255, INCOMPLETE],
  ['link set dev', 255, INCOMPLETE],
  ['link set lo mtu', 255, INCOMPLETE],
  ['link set lo address', 255, INCOMPLETE],
  // The whole line is read before the device is looked up: incomplete wins over "Cannot find device".
  ['link set nosuch mtu', 255, INCOMPLETE],
  ['route add 10.0.0.0/8 dev nosuch metric', 255, INCOMPLETE],
  ['neigh add 10.0.0.2 dev nosuch lladdr', 255, INCOMPLETE],
  ['link del nosuch type', 255, INCOMPLETE],
  ['link show dev', 255, INCOMPLETE],
  ['addr add 10.0.0.1/24 dev', 255, INCOMPLETE],
  ['addr add 10.0.0.1/24 dev lo label', 255, INCOMPLETE],
  ['addr add 10.0.0.1/24 dev lo valid_lft', 255, INCOMPLETE],
  ['addr show dev', 255, INCOMPLETE],
  ['rule add table', 255, INCOMPLETE],
  ['rule add from 10.0.0.0/8 table', 255, INCOMPLETE],
  ['rule add from 10.0.0.0/8 lookup', 255, INCOMPLETE],
  ['rule add pref', 255, INCOMPLETE],
  ['rule del pref', 255, INCOMPLETE],
  ['neigh add 10.0.0.2 lladdr', 255, INCOMPLETE],
  ['neigh add 10.0.0.2 dev', 255, INCOMPLETE],
  ['neigh add 10.0.0.2 dev lo nud', 255, INCOMPLETE],
  ['neigh show dev', 255, INCOMPLETE],
  // A route without a destination: iproute_modify() calls usage().
  ['route add', 255, IP_ROUTE_USAGE],
  ['route del', 255, IP_ROUTE_USAGE],
  ['-6 route add', 255, IP_ROUTE_USAGE],
  ['route add via 10.0.0.1', 255, IP_ROUTE_USAGE],
  ['route add dev nosuch', 255, IP_ROUTE_USAGE],
  ['route help', 255, IP_ROUTE_USAGE],
  // Missing required words that are not NEXT_ARG(), each with its own message and status.
  ['link set', 255, 'Not enough information: "dev" argument is required.\n'],
  ['link del', 255, 'Not enough information: "dev" argument is required.\n'],
  ['addr add', 1, 'Not enough information: "dev" argument is required.\n'],
  ['addr add 10.0.0.1/24', 1, 'Not enough information: "dev" argument is required.\n'],
  ['rule add', 1, '"ip rule add" requires arguments.\n'],
  ['rule del', 1, '"ip rule del" requires arguments.\n'],
  ['neigh add', 255, 'Device and destination are required arguments.\n'],
  ['neigh add 10.0.0.2', 255, 'Device and destination are required arguments.\n'],
  ['route flush', 1, '"ip route flush" requires arguments.\n'],
  ['neigh flush', 1, 'Flush requires arguments.\n'],
  ['addr flush', 1, 'Flush requires arguments.\n'],
  // A complete line with an unknown device: the lookup after parsing fails, status 1.
  ['route add 10.0.0.0/8 dev nosuch', 1, 'Cannot find device "nosuch"\n'],
  ['link set nosuch up', 1, 'Cannot find device "nosuch"\n'],
  ['neigh add 10.0.0.2 dev nosuch lladdr 02:00:00:00:00:01', 1, 'Cannot find device "nosuch"\n'],
];

for (const [line, status, err] of CASES) {
  test(`ip ${line}: exit ${status}, ${err.split('\n')[0]}`, () => {
    assert.deepEqual(nfxIp(line.split(' ')), { status, err });
  });
}

test('the same command lines against the real ip in a fresh namespace each', (t) => {
  if (realUsable !== true) { t.skip(`real ip unavailable: ${realUsable}`); return; }
  for (const [line] of CASES) {
    const real = realIp(line.split(' '));
    if (typeof real === 'string') { t.skip(real); return; }
    const ours = nfxIp(line.split(' '));
    // The route usage text is nfx's own after its first line (src/host/ip/route-usage.ts).
    if (ours.err === IP_ROUTE_USAGE) { assert.deepEqual([ours.status, ours.err.split('\n')[0]], [real.status, real.err.split('\n')[0]], `ip ${line}`); continue; }
    assert.deepEqual(ours, real, `ip ${line}`);
  }
});

test('a failed incomplete command leaves the host as it was', () => {
  const host = newHost('unchanged');
  const before = JSON.stringify(host.routes);
  const err: string[] = [];
  assert.equal(runIp(host, ['route', 'add', '10.0.0.0/8', 'dev', 'lo', 'metric'], { out: () => {}, err: (t) => { err.push(t); } }), 255);
  assert.equal(JSON.stringify(host.routes), before);
  assert.deepEqual(err, [INCOMPLETE]);
});
