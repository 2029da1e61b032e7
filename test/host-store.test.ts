/** Persistence: round trip, atomic replacement, host listing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newHost } from '../src/host/model.js';
import { runIp } from '../src/host/ip/index.js';
import { addHost, delHost, hostPath, listHosts, loadHost, saveHost } from '../src/host/store.js';
import { sysctlSet } from '../src/host/sysctl.js';

function withHome(fn: (home: string) => void): void {
  const home = mkdtempSync(join(tmpdir(), 'nfx-store-'));
  try { fn(home); } finally { rmSync(home, { recursive: true, force: true }); }
}

function listing(h: ReturnType<typeof newHost>, args: string): string {
  let out = '';
  runIp(h, args.split(' '), { out: (t) => { out += t; }, err: () => {} });
  return out;
}

test('a saved host loads back identical, with other modules\' sections kept', () => withHome((home) => {
  const ctx = { home, netns: 'gw' };
  const h = newHost('gw');
  for (const l of ['link add lan0 type veth peer name lan1', 'link set lan0 up', 'link set lan1 up', 'addr add 10.0.0.1/24 dev lan0',
    'addr add 2001:db8::1/64 dev lan0', 'route add default via 10.0.0.254', 'rule add fwmark 1 table 9', 'neigh add 10.0.0.254 lladdr 02:00:00:00:00:01 dev lan0']) {
    assert.equal(runIp(h, l.split(' '), { out: () => {}, err: () => {} }), 0, l);
  }
  sysctlSet(h, 'net.ipv4.ip_forward', '1');
  h.sections['nftables'] = { tables: [] };
  saveHost(ctx, h);
  const back = loadHost(ctx);
  for (const a of ['-j addr show', '-j route show table all', '-j rule show', '-j neigh show', '-j link show']) assert.equal(listing(back, a), listing(h, a), a);
  assert.equal(back.sysctl.get('net.ipv4.conf.lan0.forwarding'), '1');
  assert.deepEqual(back.sections, { nftables: { tables: [] } });
}));

test('saving replaces the file by rename and leaves no temporary file', () => withHome((home) => {
  const ctx = { home, netns: 'gw' };
  saveHost(ctx, newHost('gw'));
  const h = newHost('gw');
  h.sections['x'] = 1;
  saveHost(ctx, h);
  assert.deepEqual(readdirSync(join(home, 'netns')), ['gw.json']);
  assert.equal(JSON.parse(readFileSync(hostPath(ctx), 'utf8')).sections.x, 1);
}));

test('netns add, list, del; default springs into being, others must exist', () => withHome((home) => {
  assert.equal(loadHost({ home, netns: 'default' }).name, 'default');
  assert.throws(() => loadHost({ home, netns: 'nope' }), /Cannot open network namespace "nope"/);
  addHost({ home, netns: 'default' }, 'b');
  addHost({ home, netns: 'default' }, 'a');
  assert.throws(() => addHost({ home, netns: 'default' }, 'a'), /File exists/);
  assert.deepEqual(listHosts({ home, netns: 'default' }), ['a', 'b']);
  delHost({ home, netns: 'default' }, 'a');
  assert.deepEqual(listHosts({ home, netns: 'default' }), ['b']);
}));
