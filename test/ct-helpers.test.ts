/**
 * The ftp and tftp helpers: an announced data connection is RELATED on its
 * first packet; tftp's data connection follows the master's NAT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../src/netfilter/clock.js';
import {
  ConntrackTable, conntrackIn, ctStore, connOf, IP_CT_RELATED, IP_CT_NEW, IP_CT_ESTABLISHED_REPLY, IPS_EXPECTED,
} from '../src/netfilter/conntrack/index.js';
import { checksumProblems, forward, ipPacket } from '../src/netfilter/conntrack/testing.js';
import { NFT_CT } from '../src/netfilter/bytecode.js';
import type { NatRequest } from '../src/netfilter/host-services.js';

function helperName(name: string): Uint8Array {
  const r = new Uint8Array(16);
  r.set(new TextEncoder().encode(name));
  return r;
}

/** forward() with `ct helper set` applied between conntrack and the rest, as a prerouting filter rule would. */
function fwdWithHelper(t: ConntrackTable, expr: string, helper: string, snat?: NatRequest) {
  const p = ipPacket(expr);
  conntrackIn(t, p, 2, 0);
  ctStore(t, p, NFT_CT.HELPER, undefined, helperName(helper), 0, 16);
  return { w: forward(t, p, 2, snat ? { snat } : {}), p };
}

test('ftp: a 227 passive reply makes the data connection related', () => {
  const t = new ConntrackTable(new VirtualClock(0));
  const C = 'IP(src="10.0.0.2",dst="192.0.2.21")';
  const S = 'IP(src="192.0.2.21",dst="10.0.0.2")';
  fwdWithHelper(t, `${C}/TCP(sport=40000,dport=21,flags="S",seq=1)`, 'ftp');
  forward(t, ipPacket(`${S}/TCP(sport=21,dport=40000,flags="SA",seq=100,ack=2)`), 2);
  forward(t, ipPacket(`${C}/TCP(sport=40000,dport=21,flags="A",seq=2,ack=101)`), 2);
  // The helper parses a segment only after a line end it saw in that direction: the banner first.
  const banner = '220 ready\\r\\n';
  forward(t, ipPacket(`${S}/TCP(sport=21,dport=40000,flags="PA",seq=101,ack=2)/"${banner}"`), 2);
  const reply = '227 Entering Passive Mode (192,0,2,21,195,80).\\r\\n';
  const r = forward(t, ipPacket(`${S}/TCP(sport=21,dport=40000,flags="PA",seq=${101 + 11},ack=2)/"${reply}"`), 2);
  assert.equal(r.ctinfo, IP_CT_ESTABLISHED_REPLY);
  const data = forward(t, ipPacket(`${C}/TCP(sport=40100,dport=50000,flags="S",seq=7)`), 2);
  assert.equal(data.ctinfo, IP_CT_RELATED);
  // The expectation is used up: another connection to that port is just new.
  assert.equal(forward(t, ipPacket(`${C}/TCP(sport=40101,dport=50000,flags="S",seq=7)`), 2).ctinfo, IP_CT_NEW);
});

test('ftp: only a segment that starts right after a line end the helper saw is parsed (find_nl_seq)', () => {
  const t = new ConntrackTable(new VirtualClock(0));
  const C = 'IP(src="10.0.0.2",dst="192.0.2.21")';
  const S = 'IP(src="192.0.2.21",dst="10.0.0.2")';
  fwdWithHelper(t, `${C}/TCP(sport=40000,dport=21,flags="S",seq=1)`, 'ftp');
  forward(t, ipPacket(`${S}/TCP(sport=21,dport=40000,flags="SA",seq=100,ack=2)`), 2);
  forward(t, ipPacket(`${C}/TCP(sport=40000,dport=21,flags="A",seq=2,ack=101)`), 2);
  const pasv = (seq: number) => ipPacket(`${S}/TCP(sport=21,dport=40000,flags="PA",seq=${seq},ack=2)/"227 Entering Passive Mode (192,0,2,21,195,80).\\r\\n"`);
  const dataIsRelated = (sport: number) => forward(t, ipPacket(`${C}/TCP(sport=${sport},dport=50000,flags="S",seq=7)`), 2).ctinfo === IP_CT_RELATED;
  // The server's first data: not parsed, but its end (it ends in a newline) is remembered.
  forward(t, pasv(101), 2);
  assert.equal(dataIsRelated(40100), false, 'the first segment of a direction is never parsed');
  // 101 + 48 bytes: the next segment starts right after that newline and is parsed.
  forward(t, pasv(149), 2);
  assert.equal(dataIsRelated(40101), true);
  // A segment that starts elsewhere (a gap) is not parsed.
  forward(t, pasv(5000), 2);
  assert.equal(dataIsRelated(40102), false);
});

test('tftp through snat: the server\'s answer from a new port is related and reaches the client', () => {
  const t = new ConntrackTable(new VirtualClock(0));
  const snat: NatRequest = { natType: 0, kind: 'nat', family: 2, addrMin: new Uint8Array([203, 0, 113, 1]), flags: 0 };
  const rrq = 'IP(src="10.0.0.2",dst="192.0.2.69")/UDP(sport=3000,dport=69)/b"\\x00\\x01file\\x00octet\\x00"';
  const { p } = fwdWithHelper(t, rrq, 'tftp', snat);
  assert.deepEqual([...p.data.subarray(12, 16)], [203, 0, 113, 1]);
  const data = ipPacket('IP(src="192.0.2.69",dst="203.0.113.1")/UDP(sport=49152,dport=3000)/b"\\x00\\x03\\x00\\x01data"');
  const w = forward(t, data, 2);
  assert.equal(w.ctinfo, IP_CT_RELATED);
  assert.ok(connOf(t, data)!.status & IPS_EXPECTED);
  assert.deepEqual([...data.data.subarray(16, 20)], [10, 0, 0, 2]);
  assert.equal(checksumProblems(data), '');
});
