/**
 * Property: whatever the packet (TCP, UDP incl. checksum 0, ICMP echo, over
 * IPv4 or IPv6) and whatever the snat/dnat binding, every checksum verifies
 * after the rewrite, and the reply is translated back to the original peer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VirtualClock } from '../src/netfilter/clock.js';
import { ConntrackTable, IP_CT_ESTABLISHED_REPLY } from '../src/netfilter/conntrack/index.js';
import { checksumProblems, forward, ipPacket } from '../src/netfilter/conntrack/testing.js';
import type { NatRequest } from '../src/netfilter/host-services.js';
import { applyManip, manipTo, planManip } from '../src/netfilter/nat/manip.js';
import { NF_NAT_MANIP_DST, NF_NAT_MANIP_SRC } from '../src/netfilter/conntrack/types.js';

const v4 = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })).map((a) => a.join('.'));
const v6 = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((w) => ['2001', ...w.slice(1).map((x) => x.toString(16))].join(':'));
const port = fc.integer({ min: 1, max: 65535 });

function bytesOf(addr: string): Uint8Array {
  if (addr.includes('.')) return new Uint8Array(addr.split('.').map(Number));
  const out = new Uint8Array(16);
  addr.split(':').forEach((w, i) => { const n = parseInt(w, 16); out[2 * i] = n >> 8; out[2 * i + 1] = n & 0xff; });
  return out;
}

test('NAT keeps every checksum valid and translates the reply back', () => {
  fc.assert(fc.property(
    fc.boolean(), fc.constantFrom('tcp', 'udp', 'udp0', 'icmp'), fc.boolean(),
    fc.tuple(v4, v4, v4), fc.tuple(v6, v6, v6), port, port, fc.option(port, { nil: undefined }), fc.string({ maxLength: 40 }),
    (six, l4, isSnat, a4, a6, sport, dport, natPort, payload) => {
      const [cli, srv, nat] = six ? a6 : a4;
      if (cli === srv || cli === nat || srv === nat) return;
      const fam = six ? 10 : 2;
      const L3 = (s: string, d: string) => (six ? `IPv6(src="${s}",dst="${d}")` : `IP(src="${s}",dst="${d}")`);
      const data = JSON.stringify(payload);
      const L4 = (sp: number, dp: number, reply: boolean) => {
        if (l4 === 'tcp') return `TCP(sport=${sp},dport=${dp},flags="${reply ? 'SA' : 'S'}",seq=1,ack=${reply ? 2 : 0})/${data}`;
        if (l4 === 'icmp') return six ? `ICMPv6Echo${reply ? 'Reply' : 'Request'}(id=${sport},seq=1)/${data}` : `ICMP(type=${reply ? 0 : 8},id=${sport},seq=1)/${data}`;
        return `UDP(sport=${sp},dport=${dp}${l4 === 'udp0' ? ',chksum=0' : ''})/${data}`;
      };
      if (six && l4 === 'udp0') return; // no zero UDP checksum over IPv6 (RFC 8200 §8.1)
      const req: NatRequest = { natType: isSnat ? 0 : 1, kind: 'nat', family: fam, addrMin: bytesOf(nat), addrMax: bytesOf(nat), flags: 0 };
      if (natPort !== undefined && l4 !== 'icmp') { req.protoMin = natPort; req.protoMax = natPort; }
      const t = new ConntrackTable(new VirtualClock(0));
      const p = ipPacket(`${L3(cli, srv)}/${L4(sport, dport, false)}`);
      forward(t, p, fam as 2 | 10, isSnat ? { snat: req } : { dnat: req });
      assert.equal(checksumProblems(p), '', 'after the original rewrite');
      // The peer answers the rewritten packet.
      const b = p.data;
      const srcOff = six ? 8 : 12, dstOff = six ? 24 : 16, alen = six ? 16 : 4;
      const l4off = six ? 40 : 20;
      const fmt = (o: number) => six ? [...Array(8)].map((_, i) => ((b[o + 2 * i]! << 8) | b[o + 2 * i + 1]!).toString(16)).join(':') : [...b.subarray(o, o + alen)].join('.');
      const ns = fmt(srcOff), nd = fmt(dstOff);
      const nsp = (b[l4off]! << 8) | b[l4off + 1]!, ndp = (b[l4off + 2]! << 8) | b[l4off + 3]!;
      const replyL4 = l4 === 'icmp' ? L4(0, 0, true).replace(`id=${sport}`, `id=${(b[l4off + 4]! << 8) | b[l4off + 5]!}`) : L4(ndp, nsp, true);
      const r = ipPacket(`${L3(nd, ns)}/${replyL4}`);
      const w = forward(t, r, fam as 2 | 10);
      assert.equal(w.ctinfo, IP_CT_ESTABLISHED_REPLY);
      assert.equal(checksumProblems(r), '', 'after the reply rewrite');
      const rb = r.data;
      assert.deepEqual([...rb.subarray(dstOff, dstOff + alen)], [...bytesOf(cli)], 'reply reaches the client');
      assert.deepEqual([...rb.subarray(srcOff, srcOff + alen)], [...bytesOf(srv)], 'reply comes from the server');
      if (l4 !== 'icmp') {
        assert.equal((rb[l4off + 2]! << 8) | rb[l4off + 3]!, sport);
        assert.equal((rb[l4off]! << 8) | rb[l4off + 1]!, dport);
      }
    },
  ), { numRuns: 300 });
});

test('a flowtable flow\'s planned rewrite writes exactly the bytes manipTo writes, checksum corner values included', () => {
  const csum = fc.oneof(fc.constantFrom(0, 0xffff, 0xfffe, 1), fc.integer({ min: 0, max: 0xffff }));
  fc.assert(fc.property(
    fc.boolean(), fc.boolean(), fc.constantFrom(NF_NAT_MANIP_SRC, NF_NAT_MANIP_DST), fc.tuple(v4, v4, v4), fc.tuple(v6, v6, v6),
    port, port, port, fc.boolean(), fc.boolean(), csum, csum, fc.uint8Array({ minLength: 0, maxLength: 24 }),
    (six, udp, manip, a4, a6, sport, dport, otherPort, sameAddr, samePort, ipCsum, l4Csum, payload) => {
      const [s, d, n] = (six ? a6 : a4).map(bytesOf) as [Uint8Array, Uint8Array, Uint8Array];
      const l3 = six ? 40 : 20, l4len = udp ? 8 : 20, fam = six ? 10 : 2;
      const pkt = new Uint8Array(l3 + l4len + payload.length);
      if (six) { pkt[0] = 0x60; pkt[6] = udp ? 17 : 6; pkt.set(s, 8); pkt.set(d, 24); } else { pkt[0] = 0x45; pkt[9] = udp ? 17 : 6; pkt[10] = ipCsum >> 8; pkt[11] = ipCsum & 0xff; pkt.set(s, 12); pkt.set(d, 16); }
      pkt[l3] = sport >> 8; pkt[l3 + 1] = sport & 0xff; pkt[l3 + 2] = dport >> 8; pkt[l3 + 3] = dport & 0xff;
      const co = l3 + (udp ? 6 : 16);
      pkt[co] = l4Csum >> 8; pkt[co + 1] = l4Csum & 0xff;
      pkt.set(payload, l3 + l4len);
      const src = manip === NF_NAT_MANIP_SRC;
      const oldAddr = src ? s : d, oldPort = src ? sport : dport;
      // An unchanged address or port (the other side of the binding) still passes through the checksum sums.
      const addr = sameAddr ? oldAddr : n, newPort = samePort ? oldPort : otherPort;
      const slow = pkt.slice();
      assert.ok(manipTo(slow, 0, slow.length, fam, addr, newPort, newPort, manip));
      const fast = pkt.slice();
      applyManip(fast, 0, l3, udp, !six, planManip(fam, oldAddr, oldPort, addr, newPort, manip));
      assert.deepEqual(fast, slow);
    }), { numRuns: 2000 });
});
