/**
 * ESP behaviour beyond the vectors: every algorithm in every mode round
 * trips, the MACs match their RFCs, tunnel DSCP/ECN/DF/flow label follow
 * Linux, UDP encapsulation, and every drop carries the right counter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { Packet } from '../src/packet/packet.js';
import { internetChecksum } from '../src/packet/checksum.js';
import { cmacMac, createEspSa, espInput, espInputBatch, espLocate, espOutput, espOutputBatch, xcbcMac } from '../src/xfrm/esp/index.js';
import { XfrmStats } from '../src/xfrm/stats.js';
import type { EspSaConfig, EspInputResult } from '../src/xfrm/esp/index.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const seqBytes = (n: number, start = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);


function mac(m: ReturnType<typeof xcbcMac>, msg: Uint8Array): string {
  const out = new Uint8Array(16);
  m.mac([msg], out, 0);
  return toHex(out);
}

test('AES-XCBC-MAC matches RFC 3566 §4 test cases 1-7', () => {
  const m = xcbcMac(seqBytes(16));
  assert.equal(mac(m, new Uint8Array(0)), '75f0251d528ac01c4573dfd584d79f29');
  assert.equal(mac(m, seqBytes(3)), '5b376580ae2f19afe7219ceef172756f');
  assert.equal(mac(m, seqBytes(16)), 'd2a246fa349b68a79998a4394ff7a263');
  assert.equal(mac(m, seqBytes(20)), '47f51b4564966215b8985c63055ed308');
  assert.equal(mac(m, seqBytes(32)), 'f54f0ec8d2b9f3d36807734bd5283fd4');
  assert.equal(mac(m, seqBytes(34)), 'becbb3bccdb518a30677d5481fb6b4d8');
  assert.equal(mac(m, new Uint8Array(1000)), 'f0dafee895db30253761103b5d84528f');
});

test('AES-CMAC matches RFC 4493 §4 examples 1-4 (AES-CMAC-96 is their first 96 bits, RFC 4494)', () => {
  const m = cmacMac(hex('2b7e151628aed2a6abf7158809cf4f3c'));
  const msg = hex('6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710');
  assert.equal(mac(m, msg.subarray(0, 0)), 'bb1d6929e95937287fa37d129b756746');
  assert.equal(mac(m, msg.subarray(0, 16)), '070a16b46b4d4144f79bdd9dd04a287c');
  assert.equal(mac(m, msg.subarray(0, 40)), 'dfa66747de9ae63030ca32611497c827');
  assert.equal(mac(m, msg.subarray(0, 64)), '51f0bebf7e3b9d92fc49741779363cfe');
  // A split message (ESP ‖ ESN high half) gives the same tag as the joined one.
  const out = new Uint8Array(16);
  m.mac([msg.subarray(0, 13), msg.subarray(13, 40)], out, 0);
  assert.equal(toHex(out), 'dfa66747de9ae63030ca32611497c827');
});

/** An IPv4 UDP packet with a valid header checksum. */
export function ipv4Udp(payloadLen: number, opts: { tos?: number; df?: boolean; src?: number[]; dst?: number[] } = {}): Uint8Array {
  const p = new Uint8Array(28 + payloadLen);
  p.set([0x45, opts.tos ?? 0, 0, 0, 0x12, 0x34, opts.df === false ? 0 : 0x40, 0, 64, 17, 0, 0]);
  p[2] = p.length >>> 8;
  p[3] = p.length & 0xff;
  p.set(opts.src ?? [10, 1, 0, 1], 12);
  p.set(opts.dst ?? [10, 2, 0, 1], 16);
  const c = internetChecksum(p, 0, 20);
  p[10] = c >>> 8;
  p[11] = c & 0xff;
  p.set([0x30, 0x39, 0x00, 0x35, 0, 8 + payloadLen, 0, 0], 20);
  p.set(seqBytes(payloadLen, 7), 28);
  return p;
}

/** An IPv6 UDP packet. */
export function ipv6Udp(payloadLen: number, opts: { tclass?: number; flow?: number } = {}): Uint8Array {
  const p = new Uint8Array(48 + payloadLen);
  const tc = opts.tclass ?? 0;
  const fl = opts.flow ?? 0;
  p[0] = 0x60 | (tc >>> 4);
  p[1] = ((tc & 15) << 4) | ((fl >>> 16) & 15);
  p[2] = (fl >>> 8) & 0xff;
  p[3] = fl & 0xff;
  p[4] = (8 + payloadLen) >>> 8;
  p[5] = (8 + payloadLen) & 0xff;
  p[6] = 17;
  p[7] = 64;
  p.set(hex('20010db8000100000000000000000001'), 8);
  p.set(hex('20010db8000200000000000000000001'), 24);
  p.set([0x30, 0x39, 0x00, 0x35, 0, 8 + payloadLen, 0, 0], 40);
  p.set(seqBytes(payloadLen, 3), 48);
  return p;
}

const KEY = (n: number, start = 1): Uint8Array => seqBytes(n, start);
const ALGS: { label: string; cfg: Partial<EspSaConfig> }[] = [
  { label: 'rfc4106 gcm-128 icv 64', cfg: { aead: { name: 'rfc4106(gcm(aes))', key: KEY(20), icvBits: 64 } } },
  { label: 'rfc4106 gcm-256 icv 96', cfg: { aead: { name: 'rfc4106(gcm(aes))', key: KEY(36), icvBits: 96 } } },
  { label: 'rfc4106 gcm-192 icv 128', cfg: { aead: { name: 'rfc4106(gcm(aes))', key: KEY(28), icvBits: 128 } } },
  { label: 'rfc4309 ccm-128 icv 64', cfg: { aead: { name: 'rfc4309(ccm(aes))', key: KEY(19), icvBits: 64 } } },
  { label: 'rfc4309 ccm-256 icv 128', cfg: { aead: { name: 'rfc4309(ccm(aes))', key: KEY(35), icvBits: 128 } } },
  { label: 'rfc4543 gmac-128', cfg: { aead: { name: 'rfc4543(gcm(aes))', key: KEY(20), icvBits: 128 } } },
  { label: 'rfc7539esp chacha20-poly1305', cfg: { aead: { name: 'rfc7539esp(chacha20,poly1305)', key: KEY(36), icvBits: 128 } } },
  { label: 'cbc(aes) + hmac(sha1) 96', cfg: { enc: { name: 'cbc(aes)', key: KEY(16) }, auth: { name: 'hmac(sha1)', key: KEY(20, 50) } } },
  { label: 'cbc(aes) + hmac(sha256) default 96', cfg: { enc: { name: 'cbc(aes)', key: KEY(32) }, auth: { name: 'hmac(sha256)', key: KEY(32, 50) } } },
  { label: 'cbc(aes) + hmac(sha384) 192', cfg: { enc: { name: 'cbc(aes)', key: KEY(24) }, auth: { name: 'hmac(sha384)', key: KEY(48, 50) } } },
  { label: 'cbc(aes) + hmac(sha512) 256', cfg: { enc: { name: 'cbc(aes)', key: KEY(16) }, auth: { name: 'hmac(sha512)', key: KEY(64, 50) } } },
  { label: 'rfc3686 ctr + xcbc(aes)', cfg: { enc: { name: 'rfc3686(ctr(aes))', key: KEY(20) }, auth: { name: 'xcbc(aes)', key: KEY(16, 50) } } },
  { label: 'rfc3686 ctr + cmac(aes)', cfg: { enc: { name: 'rfc3686(ctr(aes))', key: KEY(36) }, auth: { name: 'cmac(aes)', key: KEY(16, 50) } } },
  { label: 'cipher_null + hmac(md5)', cfg: { enc: { name: 'cipher_null', key: new Uint8Array(0) }, auth: { name: 'hmac(md5)', key: KEY(16, 50) } } },
  { label: 'cbc(aes) + auth-trunc hmac(sha256) 128', cfg: { enc: { name: 'cbc(aes)', key: KEY(16) }, auth: { name: 'hmac(sha256)', key: KEY(32, 50), truncBits: 128 } } },
  { label: 'ecb(cipher_null) + digest_null', cfg: { enc: { name: 'ecb(cipher_null)', key: new Uint8Array(0) }, auth: { name: 'digest_null', key: new Uint8Array(0) } } },
];

const MODES: { label: string; cfg: Partial<EspSaConfig>; inner: () => Uint8Array }[] = [
  { label: 'transport v4', cfg: { mode: 'transport', saddr: '10.1.0.1', daddr: '10.2.0.1' }, inner: () => ipv4Udp(37) },
  { label: 'transport v6', cfg: { mode: 'transport', saddr: '2001:db8:1::1', daddr: '2001:db8:2::1' }, inner: () => ipv6Udp(41) },
  { label: 'tunnel 4in4', cfg: { mode: 'tunnel', saddr: '192.0.2.1', daddr: '192.0.2.2' }, inner: () => ipv4Udp(100) },
  { label: 'tunnel 6in6', cfg: { mode: 'tunnel', saddr: '2001:db8:ff::1', daddr: '2001:db8:ff::2' }, inner: () => ipv6Udp(3) },
  { label: 'tunnel 4in6', cfg: { mode: 'tunnel', saddr: '2001:db8:ff::1', daddr: '2001:db8:ff::2' }, inner: () => ipv4Udp(0) },
  { label: 'tunnel 6in4', cfg: { mode: 'tunnel', saddr: '192.0.2.1', daddr: '192.0.2.2' }, inner: () => ipv6Udp(1300) },
  { label: 'beet v4', cfg: { mode: 'beet', saddr: '192.0.2.1', daddr: '192.0.2.2', sel: { saddr: '10.1.0.1', daddr: '10.2.0.1' } }, inner: () => ipv4Udp(20) },
  { label: 'beet v6', cfg: { mode: 'beet', saddr: '2001:db8:ff::1', daddr: '2001:db8:ff::2', sel: { saddr: '2001:db8:1::1', daddr: '2001:db8:2::1' } }, inner: () => ipv6Udp(20) },
  { label: 'tunnel 4in4 udp-encap', cfg: { mode: 'tunnel', saddr: '192.0.2.1', daddr: '192.0.2.2', encap: { sport: 4500, dport: 4500 } }, inner: () => ipv4Udp(64) },
  { label: 'transport v6 udp-encap', cfg: { mode: 'transport', saddr: '2001:db8:1::1', daddr: '2001:db8:2::1', encap: { sport: 4500, dport: 4500 } }, inner: () => ipv6Udp(9) },
];

function pair(cfg: EspSaConfig, window = 32) {
  return { tx: createEspSa(cfg), rx: createEspSa({ ...cfg, replayWindow: window }) };
}

test('every algorithm in every mode, with and without ESN, round trips', () => {
  let n = 0;
  for (const a of ALGS) {
    for (const m of MODES) {
      for (const esn of [false, true]) {
        const cfg = { spi: 0x1000 + n, ...m.cfg, ...a.cfg, flags: esn ? ['esn' as const] : [] } as EspSaConfig;
        const { tx, rx } = pair(cfg);
        for (let i = 0; i < 3; i++) {
          const inner = m.inner();
          const pkt = Packet.from(inner);
          const o = espOutput(tx, pkt);
          assert.ok(o.ok, `${a.label} / ${m.label}`);
          const d = espInput(rx, pkt);
          assert.ok(d.ok && d.kind === 'esp', `${a.label} / ${m.label} / esn ${esn}: ${JSON.stringify(d)}`);
          assert.equal(toHex(pkt.data), toHex(inner), `${a.label} / ${m.label}`);
        }
        n++;
      }
    }
  }
  assert.equal(n, ALGS.length * MODES.length * 2);
});

const GCM: Partial<EspSaConfig> = { aead: { name: 'rfc4106(gcm(aes))', key: KEY(20), icvBits: 128 } };
const tunnel4 = (extra: Partial<EspSaConfig> = {}): EspSaConfig => ({ spi: 0x100, mode: 'tunnel', saddr: '192.0.2.1', daddr: '192.0.2.2', ...GCM, ...extra }) as EspSaConfig;
const tunnel6 = (extra: Partial<EspSaConfig> = {}): EspSaConfig => ({ spi: 0x100, mode: 'tunnel', saddr: '2001:db8:ff::1', daddr: '2001:db8:ff::2', ...GCM, ...extra }) as EspSaConfig;

function encap(cfg: EspSaConfig, inner: Uint8Array): Uint8Array {
  const pkt = Packet.from(inner);
  assert.ok(espOutput(createEspSa(cfg), pkt).ok);
  return pkt.data.slice();
}

test('tunnel encapsulation: DSCP copied, CE becomes ECT(0), DF copied, flow label copied (xfrm_output.c)', () => {
  // DSCP 46 (EF) with CE.
  let o = encap(tunnel4(), ipv4Udp(10, { tos: (46 << 2) | 3 }));
  assert.equal(o[1], (46 << 2) | 2);
  assert.equal(o[6]! & 0x40, 0x40, 'DF copied');
  o = encap(tunnel4(), ipv4Udp(10, { tos: (10 << 2) | 1, df: false }));
  assert.equal(o[1], (10 << 2) | 1, 'ECT(1) kept');
  assert.equal(o[6]! & 0x40, 0, 'no DF');
  o = encap(tunnel4({ flags: ['noecn'] }), ipv4Udp(10, { tos: (46 << 2) | 2 }));
  assert.equal(o[1], 46 << 2, 'noecn clears the outer ECN');
  o = encap(tunnel4({ extraFlags: ['dont-encap-dscp'] }), ipv4Udp(10, { tos: (46 << 2) | 3 }));
  assert.equal(o[1], 2, 'dont-encap-dscp: DSCP 0, ECN still encapsulated');
  o = encap(tunnel4({ flags: ['nopmtudisc'] }), ipv4Udp(10));
  assert.equal(o[6]! & 0x40, 0, 'nopmtudisc: no DF');
  // IPv6 inside IPv4: DF, except packets of at most IPV6_MIN_MTU.
  assert.equal(encap(tunnel4(), ipv6Udp(1300))[6]! & 0x40, 0x40);
  assert.equal(encap(tunnel4(), ipv6Udp(100))[6]! & 0x40, 0);
  // 6in6: traffic class and flow label.
  o = encap(tunnel6(), ipv6Udp(10, { tclass: (34 << 2) | 3, flow: 0xabcde }));
  assert.equal(((o[0]! & 15) << 4) | (o[1]! >>> 4), (34 << 2) | 2);
  assert.equal(((o[1]! & 15) << 16) | (o[2]! << 8) | o[3]!, 0xabcde);
  // 4in6: no flow label to copy.
  o = encap(tunnel6(), ipv4Udp(10, { tos: 8 << 2 }));
  assert.equal(((o[1]! & 15) << 16) | (o[2]! << 8) | o[3]!, 0);
  assert.equal(((o[0]! & 15) << 4) | (o[1]! >>> 4), 8 << 2);
});

/** Sends inner through a tunnel, rewrites the outer TOS, decapsulates, returns the inner TOS. */
function decapTos(cfg: EspSaConfig, innerTos: number, outerTos: number): number {
  const tx = createEspSa(cfg);
  const rx = createEspSa(cfg);
  const pkt = Packet.from(ipv4Udp(10, { tos: innerTos }));
  assert.ok(espOutput(tx, pkt).ok);
  const b = pkt.data;
  b[1] = outerTos;
  b[10] = 0;
  b[11] = 0;
  const c = internetChecksum(b, 0, 20);
  b[10] = c >>> 8;
  b[11] = c & 0xff;
  const d = espInput(rx, pkt);
  assert.ok(d.ok, JSON.stringify(d));
  assert.equal(internetChecksum(pkt.data, 0, 20), 0, 'inner checksum still valid');
  return pkt.data[1]!;
}

test('tunnel decapsulation: outer CE marks an ECN-capable inner; Not-ECT inner passes unmarked (Linux, not RFC 6040 drop)', () => {
  assert.equal(decapTos(tunnel4(), (10 << 2) | 2, 3), (10 << 2) | 3);
  assert.equal(decapTos(tunnel4(), (10 << 2) | 1, 3), (10 << 2) | 3);
  assert.equal(decapTos(tunnel4(), 10 << 2, 3), 10 << 2);
  assert.equal(decapTos(tunnel4({ flags: ['noecn'] }), (10 << 2) | 2, 3), (10 << 2) | 2);
  // Outer DSCP ignored unless decap-dscp.
  assert.equal(decapTos(tunnel4(), 10 << 2, 46 << 2), 10 << 2);
  assert.equal(decapTos(tunnel4({ flags: ['decap-dscp'] }), (10 << 2) | 1, 46 << 2), (46 << 2) | 1);
});

test('UDP encapsulation (RFC 3948): ports, checksum 0 on IPv4, computed on IPv6', () => {
  const o4 = encap(tunnel4({ encap: { sport: 4500, dport: 31337 } }), ipv4Udp(20));
  assert.equal(o4[9], 17);
  assert.equal(toHex(o4.subarray(20, 24)), '11947a69');
  assert.equal((o4[24]! << 8) | o4[25]!, o4.length - 20);
  assert.equal((o4[26]! << 8) | o4[27]!, 0);
  const o6 = encap(tunnel6({ encap: { sport: 4500, dport: 4500 } }), ipv6Udp(20));
  assert.equal(o6[6], 17);
  // Verify: the pseudo header sum plus the UDP bytes folds to 0xffff.
  let sum = 0;
  for (let i = 8; i < 40; i += 2) sum += (o6[i]! << 8) | o6[i + 1]!;
  const ulen = o6.length - 40;
  sum += ulen + 17;
  for (let i = 40; i < o6.length; i += 2) sum += (o6[i]! << 8) | (i + 1 < o6.length ? o6[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  assert.equal(sum, 0xffff);
  assert.notEqual((o6[46]! << 8) | o6[47]!, 0);
});

function udpPacket(payload: Uint8Array): Packet {
  const p = new Uint8Array(28 + payload.length);
  p.set([0x45, 0, 0, p.length, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 2, 192, 0, 2, 1, 0x11, 0x94, 0x11, 0x94, 0, 8 + payload.length, 0, 0]);
  p.set(payload, 28);
  return Packet.from(p);
}

test('UDP encapsulation input: 0xFF is a NAT keepalive, four zero bytes are IKE, the rest is ESP', () => {
  const sa = createEspSa(tunnel4({ encap: { sport: 4500, dport: 4500 } }));
  assert.equal(espLocate(udpPacket(Uint8Array.of(0xff))).kind, 'keepalive');
  assert.deepEqual(espInput(sa, udpPacket(Uint8Array.of(0xff))), { ok: true, kind: 'keepalive' });
  assert.deepEqual(espInput(sa, udpPacket(hex('00000000aabbccdd'))), { ok: true, kind: 'ike' });
  const stats = new XfrmStats();
  stats.account(espInput(sa, udpPacket(Uint8Array.of(0xff))));
  stats.account(espInput(sa, udpPacket(hex('00000000aabbccdd'))));
  assert.equal(stats.natKeepalives, 1);
  assert.equal(stats.ikeMessages, 1);
  assert.equal(espLocate(udpPacket(hex('00000100000000010000'))).kind, 'esp');
});

test('NAT-T: a changed peer port is reported as a mapping; transport mode marks checksums unnecessary', () => {
  const cfg = tunnel4({ encap: { sport: 4500, dport: 4500 } });
  const tx = createEspSa({ ...cfg, encap: { sport: 31337, dport: 4500 } });
  const rx = createEspSa(cfg);
  const pkt = Packet.from(ipv4Udp(5));
  assert.ok(espOutput(tx, pkt).ok);
  const d = espInput(rx, pkt);
  assert.ok(d.ok && d.kind === 'esp');
  assert.equal(d.mapping?.sport, 31337);
  assert.equal(d.checksumUnnecessary, false);
});

function drop(r: EspInputResult): string {
  return r.ok ? 'accepted' : r.counter;
}

test('drops: replay, tampered ICV, bad pad length, strict pad check, left of window, dummy, mismatches', () => {
  const cfg = tunnel4();
  const tx = createEspSa(cfg);
  const rx = createEspSa({ ...cfg, replayWindow: 8 });
  const stats = new XfrmStats();
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 20; i++) {
    const p = Packet.from(ipv4Udp(10));
    assert.ok(espOutput(tx, p).ok);
    sent.push(p.data.slice());
  }
  const rxp = (b: Uint8Array) => espInput(rx, Packet.from(b));
  assert.equal(drop(rxp(sent[19]!)), 'accepted');
  assert.equal(drop(rxp(sent[19]!)), 'XfrmInStateSeqError');
  assert.equal(rx.replay.replayErrors, 1);
  assert.equal(drop(rxp(sent[2]!)), 'XfrmInStateSeqError', 'left of the window (seq 3, top 20, window 8)');
  assert.equal(rx.replay.replayWindowErrors, 1);
  assert.equal(drop(rxp(sent[12]!)), 'accepted', 'seq 13 is inside the window');
  const bad = sent[15]!.slice();
  bad[bad.length - 1]! ^= 1;
  const r = rxp(bad);
  stats.account(r);
  assert.equal(drop(r), 'XfrmInStateProtoError');
  assert.equal(rx.integrityFailed, 1);
  assert.equal(drop(rxp(sent[15]!)), 'accepted', 'a forged copy did not move the window');
  assert.equal(stats.get('XfrmInStateProtoError'), 1);
  assert.match(stats.format(), /^XfrmInError {13}\t0\n/);

  // A transport SA with a raw ESP packet on an encap SA: XfrmInStateMismatch; wrong SPI: XfrmInNoStates.
  const enc = createEspSa({ ...cfg, encap: { sport: 4500, dport: 4500 } });
  assert.equal(drop(espInput(enc, Packet.from(sent[16]!))), 'XfrmInStateMismatch');
  const other = createEspSa({ ...cfg, spi: 0x999 });
  assert.equal(drop(espInput(other, Packet.from(sent[16]!))), 'XfrmInNoStates');
  rx.km = 'expired';
  assert.equal(drop(rxp(sent[17]!)), 'XfrmInStateInvalid');
  rx.km = 'acquire';
  assert.equal(drop(rxp(sent[17]!)), 'XfrmAcquireError');
  rx.km = 'valid';
  rx.lifetimeCheck = () => true;
  assert.equal(drop(rxp(sent[17]!)), 'XfrmInStateExpired');
});

test('trailer checks as esp_remove_trailer(): pad length must leave payload; pad bytes unchecked unless strict', () => {
  const cfg: EspSaConfig = { spi: 7, mode: 'tunnel', saddr: '192.0.2.1', daddr: '192.0.2.2', enc: { name: 'cipher_null', key: new Uint8Array(0) }, auth: { name: 'hmac(sha256)', key: KEY(32), truncBits: 128 } };
  const tx = createEspSa(cfg);
  // Padding bytes 1,2,3... replaced by junk, ICV recomputed: Linux accepts, strict nfx refuses.
  const craft = (mutate: (b: Uint8Array, trailer: number) => void): Uint8Array => {
    const p = Packet.from(ipv4Udp(9)); // 37 bytes + 2 → pad 1
    assert.ok(espOutput(tx, p).ok);
    const b = p.data.slice();
    const icvAt = b.length - 16;
    mutate(b, icvAt - 2);
    // Re-sign: null encryption, so recompute the HMAC over SPI..trailer.
    const h = createHmac('sha256', cfg.auth!.key).update(b.subarray(20, icvAt)).digest();
    b.set(h.subarray(0, 16), icvAt);
    return b;
  };
  const junk = craft((b, t) => {
    assert.equal(b[t], 1, 'pad length 1 for a 37-byte payload');
    b[t - 1] = 0xee;
  });
  assert.equal(drop(espInput(createEspSa({ ...cfg, replayWindow: 32 }), Packet.from(junk))), 'accepted');
  const strict = createEspSa({ ...cfg, replayWindow: 32, strictPadCheck: true });
  const r = espInput(strict, Packet.from(junk));
  assert.ok(!r.ok && r.counter === 'XfrmInStateProtoError' && /padding/.test(r.detail));
  const tooLong = craft((b, t) => {
    b[t] = 200;
  });
  const r2 = espInput(createEspSa(cfg), Packet.from(tooLong));
  assert.ok(!r2.ok && r2.counter === 'XfrmInStateProtoError' && /pad length/.test(r2.detail));
});


test('dummy packets (next header 59) are dropped as XfrmInStateProtoError and do not advance the window', () => {
  const cfg = tunnel4();
  const tx = createEspSa(cfg);
  const rx = createEspSa({ ...cfg, replayWindow: 32 });
  const p = Packet.from(seqBytes(40));
  assert.ok(espOutput(tx, p, { dummy: true }).ok);
  const r = espInput(rx, p);
  assert.ok(!r.ok && r.counter === 'XfrmInStateProtoError' && /dummy/.test(r.detail));
  assert.equal(rx.replay.seq, 0);
});

test('TFC padding: tfcpad pads up to its length; tunnel decapsulation trims to the inner length', () => {
  const cfg = tunnel4({ tfcpad: 200 });
  const tx = createEspSa(cfg);
  const rx = createEspSa(cfg);
  const inner = ipv4Udp(10);
  const p = Packet.from(inner);
  assert.ok(espOutput(tx, p).ok);
  // 20 outer + 8 ESP + 8 IV + 200 (padded payload) + 2 trailer + 2 alignment + 16 ICV
  assert.equal(p.length, 20 + 16 + 204 + 16);
  assert.ok(espInput(rx, p).ok);
  assert.equal(toHex(p.data), toHex(inner));
  // Capped by xfrm_state_mtu(): with a 150-byte route MTU the padded packet still fits.
  const capped = Packet.from(inner);
  assert.ok(espOutput(createEspSa(cfg), capped, { mtu: 150 }).ok);
  assert.ok(capped.length <= 150, `${capped.length} > 150`);
  assert.equal(tx.mtu(1500), 1500 - 20 - 8 - 8 - 16 - 2 - ((1500 - 20 - 16 - 16) % 4));
  assert.equal(tx.headerLen, 36);
  assert.equal(tx.trailerLen, 4 + 1 + 16);
});

test('output sequence numbers: no ESN stops at 2^32-1 (XfrmOutStateSeqError); ESN carries into the high half', () => {
  const sa = createEspSa(tunnel4({ replayOseq: 0xfffffffe }));
  const o1 = espOutput(sa, Packet.from(ipv4Udp(1)));
  assert.ok(o1.ok && o1.seq === 0xffffffff);
  const o2 = espOutput(sa, Packet.from(ipv4Udp(1)));
  assert.ok(!o2.ok && o2.counter === 'XfrmOutStateSeqError');
  assert.equal(sa.replay.oseq, 0xffffffff);
  const wrap = createEspSa(tunnel4({ replayOseq: 0xffffffff, extraFlags: ['oseq-may-wrap'] }));
  const o3 = espOutput(wrap, Packet.from(ipv4Udp(1)));
  assert.ok(o3.ok && o3.seq === 0);
  const esn = createEspSa(tunnel4({ flags: ['esn'], replayOseq: 0xffffffff, replayOseqHi: 6 }));
  const o4 = espOutput(esn, Packet.from(ipv4Udp(1)));
  assert.ok(o4.ok && o4.seq === 0 && o4.seqHi === 7);
  const end = createEspSa(tunnel4({ flags: ['esn'], replayOseq: 0xffffffff, replayOseqHi: 0xffffffff }));
  const o5 = espOutput(end, Packet.from(ipv4Udp(1)));
  assert.ok(!o5.ok && o5.counter === 'XfrmOutStateSeqError');
});

test('mode errors: wrong inner family for the selector, non-IP tunnel payload', () => {
  const sa = createEspSa(tunnel4({ sel: { saddr: '10.0.0.0', daddr: '10.0.0.0' } }));
  const r = espOutput(sa, Packet.from(ipv6Udp(4)));
  assert.ok(!r.ok && r.counter === 'XfrmOutStateModeError');
  const tx = createEspSa(tunnel4());
  const notIp = espOutput(tx, Packet.from(seqBytes(30)));
  assert.ok(!notIp.ok && notIp.counter === 'XfrmOutStateModeError' && /not an IP packet/.test(notIp.detail));
  assert.equal(tx.replay.oseq, 0, 'a refused packet takes no sequence number');
  const sendAs = createEspSa({ ...tunnel4(), mode: 'transport' } as EspSaConfig);
  const q = Packet.from(ipv4Udp(8, { src: [192, 0, 2, 1], dst: [192, 0, 2, 2] }));
  assert.ok(espOutput(sendAs, q).ok);
  const r2 = espInput(createEspSa(tunnel4()), q);
  assert.ok(!r2.ok && r2.counter === 'XfrmInStateModeError');
});

test('key material and configuration checks', () => {
  assert.throws(() => createEspSa(tunnel4({ aead: { name: 'rfc4106(gcm(aes))', key: KEY(20), icvBits: 100 } })), /ICV length/);
  assert.throws(() => createEspSa(tunnel4({ aead: { name: 'rfc4543(gcm(aes))', key: KEY(20), icvBits: 64 } })), /ICV length/);
  assert.throws(() => createEspSa({ spi: 1, mode: 'tunnel', saddr: '1.1.1.1', daddr: '2.2.2.2' }), /AEAD or CRYPT must be provided/);
  assert.throws(() => createEspSa({ ...tunnel4(), aead: undefined, enc: { name: 'cbc(aes)', key: KEY(15) } } as EspSaConfig), /invalid key length/);
  assert.throws(() => createEspSa({ ...tunnel4(), aead: undefined, enc: { name: 'cbc(aes)', key: KEY(16) }, auth: { name: 'hmac(sha1)', key: KEY(20), truncBits: 168 } } as EspSaConfig), /truncation/);
  assert.throws(() => createEspSa({ ...tunnel4(), mode: 'beet' } as EspSaConfig), /selector/);
  try {
    createEspSa(tunnel4({ aead: { name: 'rfc4106(gcm(aes))', key: hex('deadbeefdeadbeefdeadbeefdeadbeefdeadbe'), icvBits: 128 } }));
    assert.fail('accepted a 19-byte GCM key');
  } catch (e) {
    assert.doesNotMatch(String(e), /dead/, 'no key bytes in errors');
  }
});


test('batch GCM: espOutputBatch is byte-identical to espOutput; espInputBatch matches espInput, duplicates in a batch are replays', () => {
  for (const extra of [{}, { flags: ['esn' as const], replayOseq: 0xfffffffe }, { encap: { sport: 4500, dport: 4500 } }]) {
    for (const mk of [tunnel4, tunnel6]) {
      for (const icvBits of [64, 96, 128]) {
        const cfg = mk({ ...extra, aead: { name: 'rfc4106(gcm(aes))', key: KEY(36), icvBits } } as Partial<EspSaConfig>);
        const a = createEspSa(cfg);
        const b = createEspSa(cfg);
        const inners = [0, 1, 15, 16, 17, 100, 1400].map((n) => ipv4Udp(n));
        const one = inners.map((x) => {
          const p = Packet.from(x);
          assert.ok(espOutput(a, p).ok);
          return toHex(p.data);
        });
        const pkts = inners.map((x) => Packet.from(x));
        assert.ok(espOutputBatch(b, pkts).every((r) => r.ok));
        assert.deepEqual(pkts.map((p) => toHex(p.data)), one);

        const rx = createEspSa({ ...cfg, replayWindow: 64, replaySeq: cfg.replayOseq ?? 0 });
        const wire = pkts.map((p) => p.data.slice());
        const bad = wire[3]!.slice();
        bad[bad.length - 1]! ^= 1;
        const batch = [wire[0]!, wire[1]!, wire[1]!, bad, ...wire.slice(2)].map((w) => Packet.from(w));
        const res = espInputBatch(rx, batch);
        assert.deepEqual(res.map(drop), ['accepted', 'accepted', 'XfrmInStateSeqError', 'XfrmInStateProtoError', 'accepted', 'accepted', 'accepted', 'accepted', 'accepted']);
        assert.equal(toHex(batch[8]!.data), toHex(inners[6]!));
      }
    }
  }
});

test('IPv6 transport: ESP goes after Hop-by-Hop and Routing headers (ip6_find_1stfragopt), and comes back out', () => {
  const udp = ipv6Udp(12);
  // Insert a Hop-by-Hop header (8 bytes: next header UDP, PadN) after the fixed header.
  const p = new Uint8Array(udp.length + 8);
  p.set(udp.subarray(0, 40), 0);
  p[6] = 0; // next header: Hop-by-Hop
  p.set([17, 0, 1, 4, 0, 0, 0, 0], 40);
  p.set(udp.subarray(40), 48);
  const plen = p.length - 40;
  p[4] = plen >> 8;
  p[5] = plen & 255;
  const cfg = { spi: 0x600, mode: 'transport', saddr: '2001:db8:1::1', daddr: '2001:db8:2::1', ...GCM } as EspSaConfig;
  const pkt = Packet.from(p);
  assert.ok(espOutput(createEspSa(cfg), pkt).ok);
  const o = pkt.data;
  assert.equal(o[6], 0, 'the fixed header still points at Hop-by-Hop');
  assert.equal(o[40], 50, 'Hop-by-Hop now points at ESP');
  assert.equal(toHex(o.subarray(48, 52)), '00000600', 'ESP right after the 8-byte Hop-by-Hop header');
  assert.equal((o[4]! << 8) | o[5]!, o.length - 40);
  const d = espInput(createEspSa(cfg), pkt);
  assert.ok(d.ok && d.kind === 'esp' && d.nextHeader === 17);
  assert.equal(toHex(pkt.data), toHex(p));
});

test('BEET: the inner header is rebuilt from the selector; the outer keeps TOS, TTL, id and DF', () => {
  const cfg = { spi: 0x700, mode: 'beet', saddr: '192.0.2.1', daddr: '192.0.2.2', sel: { saddr: '10.1.0.1', daddr: '10.2.0.1' }, ...GCM } as EspSaConfig;
  const inner = ipv4Udp(30, { tos: 0x28 });
  const pkt = Packet.from(inner);
  assert.ok(espOutput(createEspSa(cfg), pkt).ok);
  const o = pkt.data;
  assert.equal(o[1], 0x28);
  assert.equal(toHex(o.subarray(4, 9)), toHex(inner.subarray(4, 9)), 'id, flags and TTL carried over');
  assert.equal(toHex(o.subarray(12, 20)), 'c0000201c0000202');
  assert.equal(o.length, 20 + 8 + 8 + (8 + 30) + 2 + 16, 'no inner IP header on the wire (38 + 2 is already 4-aligned)');
  assert.ok(espInput(createEspSa(cfg), pkt).ok);
  assert.equal(toHex(pkt.data), toHex(inner));
});

test('BEET with IPv4 options: carried behind a pseudo header (next header 94) and restored', () => {
  const cfg = { spi: 0x701, mode: 'beet', saddr: '192.0.2.1', daddr: '192.0.2.2', sel: { saddr: '10.1.0.1', daddr: '10.2.0.1' }, ...GCM } as EspSaConfig;
  for (const optlen of [4, 8, 12, 40]) {
    const base = ipv4Udp(25);
    const p = new Uint8Array(base.length + optlen);
    p.set(base.subarray(0, 20), 0);
    p.set(base.subarray(20), 20 + optlen);
    p[0] = 0x45 + optlen / 4;
    p.set([0x94, 0x04, 0, 0], 20); // Router Alert
    for (let i = 24; i < 20 + optlen; i++) p[i] = 1; // NOPs
    p[2] = p.length >> 8;
    p[3] = p.length & 255;
    p[10] = p[11] = 0;
    const c = internetChecksum(p, 0, 20 + optlen);
    p[10] = c >> 8;
    p[11] = c & 255;
    const tx = createEspSa(cfg);
    const rx = createEspSa(cfg);
    const pkt = Packet.from(p);
    assert.ok(espOutput(tx, pkt).ok);
    const d = espInput(rx, pkt);
    assert.ok(d.ok && d.kind === 'esp' && d.nextHeader === 94, JSON.stringify(d));
    assert.equal(toHex(pkt.data), toHex(p), `options of ${optlen} bytes`);
  }
});

test('BEET across families: IPv4 inside, IPv6 outside (the IPv4 id is not carried, as in Linux)', () => {
  const cfg = { spi: 0x702, mode: 'beet', saddr: '2001:db8:ff::1', daddr: '2001:db8:ff::2', sel: { saddr: '10.1.0.1', daddr: '10.2.0.1' }, ...GCM } as EspSaConfig;
  const inner = ipv4Udp(33, { tos: 0x20 });
  const pkt = Packet.from(inner);
  assert.ok(espOutput(createEspSa(cfg), pkt).ok);
  assert.equal(pkt.data[0]! >> 4, 6);
  assert.ok(espInput(createEspSa(cfg), pkt).ok);
  const expected = inner.slice();
  expected[4] = expected[5] = 0; // xfrm6_extract_header(): id 0
  expected[10] = expected[11] = 0;
  const c = internetChecksum(expected, 0, 20);
  expected[10] = c >> 8;
  expected[11] = c & 255;
  assert.equal(toHex(pkt.data), toHex(expected));
});


test('property: any algorithm, mode, ESN, encapsulation, TFC length and packet size round trips; one flipped bit never does', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: ALGS.length - 1 }),
      fc.integer({ min: 0, max: MODES.length - 1 }),
      fc.boolean(),
      fc.integer({ min: 0, max: 1500 }),
      fc.integer({ min: 0, max: 64 }),
      fc.nat(),
      (ai, mi, esn, size, tfc, flip) => {
        const m = MODES[mi]!;
        const cfg = { spi: 0x900, ...m.cfg, ...ALGS[ai]!.cfg, flags: esn ? ['esn'] : [] } as EspSaConfig;
        const tunnelLike = m.cfg.mode !== 'transport';
        // The inner family: the SA's in transport mode, the selector's in BEET, either in tunnel mode.
        const v6 = m.cfg.mode === 'transport' ? (m.cfg.saddr as string).includes(':') : m.cfg.mode === 'beet' ? m.cfg.sel!.saddr.includes(':') : flip % 2 === 1;
        const inner = v6 ? ipv6Udp(size) : ipv4Udp(size);
        const pkt = Packet.from(inner);
        // TFC padding only where the inner length tells the receiver where it ends (RFC 4303 §2.7).
        const o = espOutput(createEspSa(cfg), pkt, { tfcLen: tunnelLike && m.cfg.mode === 'tunnel' ? tfc : 0 });
        if (!o.ok) return false;
        const wire = pkt.data.slice();
        const espRel = o.espOffset - pkt.head;
        const d = espInput(createEspSa({ ...cfg, replayWindow: 32 }), pkt);
        if (!d.ok || toHex(pkt.data) !== toHex(inner)) return false;
        // Any single-bit change after the SPI is caught when the SA has an ICV.
        const icv = createEspSa(cfg).crypto.icvLen;
        if (icv === 0) return true;
        const bad = wire.slice();
        // From the sequence number on: a changed SPI is another SA (XfrmInNoStates), not a forgery.
        const start = espRel + 4;
        const bit = start * 8 + (flip % ((bad.length - start) * 8));
        bad[bit >> 3]! ^= 1 << (bit & 7);
        const r = espInput(createEspSa({ ...cfg, replayWindow: 32 }), Packet.from(bad));
        return !r.ok;
      },
    ),
    { numRuns: 400 },
  );
});
