/** Sysctls: Linux defaults, per-interface inheritance, procps texts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newHost, linkAdd } from '../src/host/model.js';
import { ipv4Conf, sysctlGet } from '../src/host/sysctl.js';
import { runSysctl } from '../src/host/sysctl-cmd.js';
import type { Host } from '../src/host/types.js';

function sysctl(h: Host, ...argv: string[]): { status: number; out: string; err: string } {
  let out = '', err = '';
  const status = runSysctl(h, argv, { out: (t) => { out += t; }, err: (t) => { err += t; } });
  return { status, out, err };
}

test('defaults are Linux 6.18 built-in values', () => {
  const h = newHost('s');
  assert.equal(sysctlGet(h, 'net.ipv4.ip_forward'), '0');
  assert.equal(sysctlGet(h, 'net.ipv4.icmp_ratelimit'), '1000');
  assert.equal(sysctlGet(h, 'net.ipv4.icmp_ratemask'), '6168');
  assert.equal(sysctlGet(h, 'net.ipv6.icmp.ratelimit'), '100');
  assert.equal(sysctlGet(h, 'net.netfilter.nf_conntrack_tcp_loose'), '1');
  assert.equal(sysctlGet(h, 'net.netfilter.nf_conntrack_tcp_timeout_established'), '432000');
  assert.equal(sysctlGet(h, 'net.ipv6.conf.lo.accept_dad'), '-1');
});

test('ip_forward switches all, default and every interface', () => {
  const h = newHost('s');
  linkAdd(h, 'eth0', { kind: 'ether' });
  assert.equal(sysctl(h, '-w', 'net.ipv4.ip_forward=1').out, 'net.ipv4.ip_forward = 1\n');
  for (const k of ['all', 'default', 'lo', 'eth0']) assert.equal(sysctlGet(h, `net.ipv4.conf.${k}.forwarding`), '1');
  linkAdd(h, 'eth1', { kind: 'ether' });
  assert.equal(sysctlGet(h, 'net.ipv4.conf.eth1.forwarding'), '1', 'a new link copies default');
});

test('IPv4 default reaches links that never set the key; a link made after a default write keeps its copy', () => {
  const h = newHost('s');
  linkAdd(h, 'a', { kind: 'ether' });
  linkAdd(h, 'b', { kind: 'ether' });
  sysctl(h, 'net.ipv4.conf.b.rp_filter=2');
  sysctl(h, 'net.ipv4.conf.default.rp_filter=1');
  assert.equal(sysctlGet(h, 'net.ipv4.conf.a.rp_filter'), '1');
  assert.equal(sysctlGet(h, 'net.ipv4.conf.b.rp_filter'), '2');
  linkAdd(h, 'c', { kind: 'ether' });
  sysctl(h, 'net.ipv4.conf.default.rp_filter=0');
  assert.equal(sysctlGet(h, 'net.ipv4.conf.c.rp_filter'), '1');
  assert.equal(sysctlGet(h, 'net.ipv4.conf.a.rp_filter'), '0');
});

test('rp_filter takes the larger of all and the link; accept_local is on if either is', () => {
  const h = newHost('s');
  linkAdd(h, 'a', { kind: 'ether' });
  sysctl(h, 'net.ipv4.conf.all.rp_filter=2', 'net.ipv4.conf.a.rp_filter=1', 'net.ipv4.conf.all.accept_local=1');
  assert.equal(ipv4Conf(h, 'a', 'rp_filter'), 2);
  assert.equal(ipv4Conf(h, 'a', 'accept_local'), 1);
});

test('procps messages and statuses', () => {
  const h = newHost('s');
  assert.deepEqual(sysctl(h, 'net.ipv4.foo'), { status: 1, out: '', err: 'sysctl: cannot stat /proc/sys/net/ipv4/foo: No such file or directory\n' });
  assert.deepEqual(sysctl(h, '-w', 'net.ipv4.ip_forward=x'), { status: 1, out: '', err: 'sysctl: setting key "net.ipv4.ip_forward": Invalid argument\n' });
  assert.equal(sysctl(h, '-n', 'net.ipv4.ip_default_ttl').out, '64\n');
  assert.match(sysctl(h, 'net.ipv4.conf.lo').out, /^net\.ipv4\.conf\.lo\.accept_local = 0\n/);
  assert.equal(sysctl(h, '-w', 'net.ipv4.ip_forward').status, 1);
});
