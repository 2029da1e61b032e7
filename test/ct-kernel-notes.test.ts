/**
 * The conntrack facts observed on the real kernel (KERNEL-NOTES.md), one by
 * one, as nf_conntrack_in() classifies each packet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock } from '../src/netfilter/clock.js';
import {
  ConntrackTable, conntrackIn, conntrackConfirm, ctLoad, CT_INVALID, IP_CT_ESTABLISHED_REPLY, IP_CT_NEW, IP_CT_ESTABLISHED,
  NF_CT_STATE_INVALID_BIT, nfCtStateBit,
} from '../src/netfilter/conntrack/index.js';
import { ipPacket } from '../src/netfilter/conntrack/testing.js';
import { NFT_CT } from '../src/netfilter/bytecode.js';

const PRE = 0, OUT = 3;

function table(sysctl: Record<string, number> = {}): ConntrackTable {
  return new ConntrackTable(new VirtualClock(1_000_000), (k) => sysctl[k]);
}

/** One packet through PREROUTING conntrack and on to confirmation; returns its ctinfo. */
function pass(t: ConntrackTable, expr: string, hook = PRE): { ctinfo: number; reason: string; state: number } {
  const p = ipPacket(expr);
  const r = conntrackIn(t, p, 2, hook);
  const out = { ctinfo: r.ctinfo, reason: r.reason, state: 0 };
  const regs = new Uint8Array(16);
  ctLoad(t, p, NFT_CT.STATE, undefined, regs, 0);
  out.state = new Uint32Array(regs.buffer)[0]!;
  conntrackConfirm(t, p);
  return out;
}

const C = 'IP(src="10.0.0.2",dst="192.0.2.10")';
const S = 'IP(src="192.0.2.10",dst="10.0.0.2")';

test('a SYN-ACK answering a tracked SYN is already established', () => {
  const t = table();
  const syn = pass(t, `${C}/TCP(sport=40000,dport=80,flags="S",seq=1000)`);
  assert.equal(syn.ctinfo, IP_CT_NEW);
  assert.equal(syn.state, nfCtStateBit(IP_CT_NEW));
  const synack = pass(t, `${S}/TCP(sport=80,dport=40000,flags="SA",seq=5000,ack=1001)`);
  assert.equal(synack.ctinfo, IP_CT_ESTABLISHED_REPLY);
  assert.equal(synack.state, nfCtStateBit(IP_CT_ESTABLISHED_REPLY));
  // `ct state established` compiles to a test of bit 0x2 (nft's ct_state table); a reply must set it.
  assert.equal(synack.state, 0x2);
  assert.equal(syn.state, 0x8, '`ct state new` is bit 0x8');
});

test('repeated UDP with no reply stays new', () => {
  const t = table();
  for (let i = 0; i < 3; i++) {
    assert.equal(pass(t, `${C}/UDP(sport=5000,dport=53)/"q"`).ctinfo, IP_CT_NEW);
  }
  assert.equal(pass(t, `${S}/UDP(sport=53,dport=5000)/"a"`).ctinfo, IP_CT_ESTABLISHED_REPLY);
  assert.equal(pass(t, `${C}/UDP(sport=5000,dport=53)/"q"`).ctinfo, IP_CT_ESTABLISHED);
});

test('a bare ACK with no connection is new with nf_conntrack_tcp_loose=1 (loose pickup)', () => {
  const t = table();
  const r = pass(t, `${C}/TCP(sport=40001,dport=80,flags="A",seq=1,ack=1)`);
  assert.equal(r.ctinfo, IP_CT_NEW);
  // The picked-up connection is liberal: the answer is established.
  assert.equal(pass(t, `${S}/TCP(sport=80,dport=40001,flags="A",seq=77,ack=1)`).ctinfo, IP_CT_ESTABLISHED_REPLY);
});

test('a bare ACK with no connection is invalid with nf_conntrack_tcp_loose=0', () => {
  const t = table({ 'net.netfilter.nf_conntrack_tcp_loose': 0 });
  const r = pass(t, `${C}/TCP(sport=40001,dport=80,flags="A",seq=1,ack=1)`);
  assert.equal(r.ctinfo, CT_INVALID);
  assert.equal(r.state, NF_CT_STATE_INVALID_BIT);
});

for (const flags of ['F', 'FA', 'R', 'RA', 'SA']) {
  test(`TCP flags ${flags} with no connection are invalid`, () => {
    const t = table();
    const r = pass(t, `${C}/TCP(sport=40002,dport=80,flags="${flags}",seq=1,ack=1)`);
    assert.equal(r.ctinfo, CT_INVALID, r.reason);
    assert.equal(r.state, NF_CT_STATE_INVALID_BIT);
    assert.equal(t.count, 0);
  });
}

test('a bad TCP checksum is invalid at PREROUTING with nf_conntrack_checksum=1', () => {
  const t = table();
  const r = pass(t, `${C}/TCP(sport=40003,dport=80,flags="S",chksum=0x1234)`);
  assert.equal(r.ctinfo, CT_INVALID);
  assert.match(r.reason, /bad TCP checksum/);
});

test('checksums are not checked with nf_conntrack_checksum=0, nor on locally generated packets', () => {
  assert.equal(pass(table({ 'net.netfilter.nf_conntrack_checksum': 0 }), `${C}/TCP(sport=40003,dport=80,flags="S",chksum=0x1234)`).ctinfo, IP_CT_NEW);
  assert.equal(pass(table(), `${C}/TCP(sport=40003,dport=80,flags="S",chksum=0x1234)`, OUT).ctinfo, IP_CT_NEW);
});

test('a bad UDP checksum is invalid; a zero IPv4 UDP checksum is fine', () => {
  assert.equal(pass(table(), `${C}/UDP(sport=1,dport=2,chksum=0x4321)/"x"`).ctinfo, CT_INVALID);
  assert.equal(pass(table(), `${C}/UDP(sport=1,dport=2,chksum=0)/"x"`).ctinfo, IP_CT_NEW);
});
