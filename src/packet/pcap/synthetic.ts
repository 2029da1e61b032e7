/**
 * Hand-built frames for captures nfx ships and measures itself on: the demo
 * capture, the pcap benchmark's million packets and the tshark tests. Plain
 * byte construction with correct lengths and checksums, so Wireshark reads
 * every frame without a warning. (The full builders with every protocol
 * option live in packet/build; this is the small, dependency-free subset a
 * capture generator needs.)
 */
import { finish, internetChecksum, onesSum, pseudoSum4, pseudoSum6 } from '../checksum.js';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

/** TCP flag bits (RFC 9293 §3.1). */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

/** "02:00:00:00:00:01" → 6 bytes. */
export function mac(text: string): Uint8Array {
  return Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
}

/** "10.0.0.1" → 4 bytes; "2001:db8::1" → 16 bytes. */
export function addr(text: string): Uint8Array {
  if (!text.includes(':')) return Uint8Array.from(text.split('.').map(Number));
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head), t = groups(tail);
  const all = [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  const out = new Uint8Array(16);
  all.forEach((g, i) => { out[2 * i] = g >> 8; out[2 * i + 1] = g & 0xff; });
  return out;
}

const put16 = (b: Uint8Array, o: number, v: number) => { b[o] = v >> 8; b[o + 1] = v; };
const put32 = (b: Uint8Array, o: number, v: number) => { b[o] = v >>> 24; b[o + 1] = v >> 16; b[o + 2] = v >> 8; b[o + 3] = v; };

/** Ethernet II (IEEE 802.3 with an ethertype). */
export function ether(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + payload.length);
  f.set(dst, 0);
  f.set(src, 6);
  put16(f, 12, type);
  f.set(payload, 14);
  return f;
}

/** IPv4 header without options (RFC 791), header checksum filled. */
export function ipv4(src: Uint8Array, dst: Uint8Array, proto: number, payload: Uint8Array, o: { id?: number; ttl?: number; df?: boolean; tos?: number } = {}): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  p[0] = 0x45;
  p[1] = o.tos ?? 0;
  put16(p, 2, p.length);
  put16(p, 4, o.id ?? 0);
  put16(p, 6, o.df === false ? 0 : 0x4000);
  p[8] = o.ttl ?? 64;
  p[9] = proto;
  p.set(src, 12);
  p.set(dst, 16);
  put16(p, 10, internetChecksum(p, 0, 20));
  p.set(payload, 20);
  return p;
}

/** IPv6 fixed header (RFC 8200 §3). */
export function ipv6(src: Uint8Array, dst: Uint8Array, nextHeader: number, payload: Uint8Array, o: { hlim?: number; flow?: number } = {}): Uint8Array {
  const p = new Uint8Array(40 + payload.length);
  put32(p, 0, (6 << 28) | ((o.flow ?? 0) & 0xfffff));
  put16(p, 4, payload.length);
  p[6] = nextHeader;
  p[7] = o.hlim ?? 64;
  p.set(src, 8);
  p.set(dst, 24);
  p.set(payload, 40);
  return p;
}

/** Checksum of a transport segment under the pseudo-header of its addresses (RFC 793, RFC 8200 §8.1). */
function l4Checksum(src: Uint8Array, dst: Uint8Array, proto: number, seg: Uint8Array): number {
  const ab = new Uint8Array(src.length * 2);
  ab.set(src, 0);
  ab.set(dst, src.length);
  const pseudo = src.length === 4 ? pseudoSum4(ab, 0, 4, proto, seg.length) : pseudoSum6(ab, 0, 16, proto, seg.length);
  return finish(onesSum(seg, 0, seg.length, pseudo));
}

export interface TcpFields {
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  /** Adds an MSS option (RFC 9293 §3.2) — what SYNs carry. */
  mss?: number;
  payload?: Uint8Array;
}

/** A TCP segment with its checksum, for the addresses of the IP header it will ride in. */
export function tcp(src: Uint8Array, dst: Uint8Array, f: TcpFields): Uint8Array {
  const optLen = f.mss !== undefined ? 4 : 0;
  const payload = f.payload ?? new Uint8Array(0);
  const s = new Uint8Array(20 + optLen + payload.length);
  put16(s, 0, f.sport);
  put16(s, 2, f.dport);
  put32(s, 4, f.seq);
  put32(s, 8, f.ack ?? 0);
  s[12] = ((20 + optLen) / 4) << 4;
  s[13] = f.flags;
  put16(s, 14, f.window ?? 64240);
  if (f.mss !== undefined) { s[20] = 2; s[21] = 4; put16(s, 22, f.mss); }
  s.set(payload, 20 + optLen);
  put16(s, 16, l4Checksum(src, dst, IPPROTO_TCP, s));
  return s;
}

/** A UDP datagram with its checksum (RFC 768; mandatory over IPv6). */
export function udp(src: Uint8Array, dst: Uint8Array, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const s = new Uint8Array(8 + payload.length);
  put16(s, 0, sport);
  put16(s, 2, dport);
  put16(s, 4, s.length);
  s.set(payload, 8);
  put16(s, 6, l4Checksum(src, dst, IPPROTO_UDP, s) || 0xffff);
  return s;
}

/** ICMP echo request (8) or reply (0) (RFC 792). */
export function icmpEcho(type: 0 | 8, id: number, seq: number, payload: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + payload.length);
  m[0] = type;
  put16(m, 4, id);
  put16(m, 6, seq);
  m.set(payload, 8);
  put16(m, 2, internetChecksum(m));
  return m;
}

/** ICMPv6 echo request (128) or reply (129) (RFC 4443 §4), checksum over the pseudo-header. */
export function icmp6Echo(src: Uint8Array, dst: Uint8Array, type: 128 | 129, id: number, seq: number, payload: Uint8Array): Uint8Array {
  const m = new Uint8Array(8 + payload.length);
  m[0] = type;
  put16(m, 4, id);
  put16(m, 6, seq);
  m.set(payload, 8);
  put16(m, 2, l4Checksum(src, dst, IPPROTO_ICMPV6, m));
  return m;
}

/** ARP for IPv4 over Ethernet (RFC 826): op 1 request, 2 reply. */
export function arp(op: 1 | 2, sha: Uint8Array, spa: Uint8Array, tha: Uint8Array, tpa: Uint8Array): Uint8Array {
  const a = new Uint8Array(28);
  put16(a, 0, 1); // htype Ethernet
  put16(a, 2, ETHERTYPE_IPV4);
  a[4] = 6;
  a[5] = 4;
  put16(a, 6, op);
  a.set(sha, 8);
  a.set(spa, 14);
  a.set(tha, 18);
  a.set(tpa, 24);
  return a;
}

/** Pads a frame to the Ethernet minimum of 60 bytes (without FCS), as a NIC does. */
export function padFrame(frame: Uint8Array): Uint8Array {
  if (frame.length >= 60) return frame;
  const f = new Uint8Array(60);
  f.set(frame);
  return f;
}

function dnsName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split('.')) {
    out.push(label.length, ...Array.from(label, (c) => c.charCodeAt(0)));
  }
  out.push(0);
  return out;
}

/** A DNS query for one name (RFC 1035 §4.1): qtype 1 A, 28 AAAA. */
export function dnsQuery(id: number, name: string, qtype = 1): Uint8Array {
  return Uint8Array.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...dnsName(name), 0, qtype, 0, 1]);
}

/** The answer to dnsQuery with one A record (the name compressed as a pointer to the question). */
export function dnsAnswerA(id: number, name: string, address: Uint8Array, ttl = 300): Uint8Array {
  return Uint8Array.from([
    id >> 8, id & 0xff, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, ...dnsName(name), 0, 1, 0, 1,
    0xc0, 12, 0, 1, 0, 1, ttl >>> 24, (ttl >> 16) & 0xff, (ttl >> 8) & 0xff, ttl & 0xff, 0, 4, ...address,
  ]);
}
