/**
 * Writes data/demo.pcap, the capture nfx ships for `nfx demo` and the README:
 * a minute in a small office. The laptop 192.168.1.23 resolves the gateway
 * (ARP), looks up example.com (DNS over UDP), fetches a page over HTTP (TCP
 * handshake, request, response, close), pings the gateway over IPv4 and
 * IPv6, opens SSH to the office server 192.168.1.10 and is refused on
 * telnet (RST). Every frame is built byte by byte with correct checksums,
 * and the output is deterministic, so the file can be regenerated and
 * compared: `node dist/bench/make-demo-capture.js [OUT]`.
 */
import { fileURLToPath } from 'node:url';
import { LINKTYPE_ETHERNET, writePcapFile } from '../src/packet/pcap/index.js';
import type { WritableRecord } from '../src/packet/pcap/index.js';
import {
  addr, arp, dnsAnswerA, dnsQuery, ether, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, icmp6Echo, icmpEcho, ipv4, ipv6,
  IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, mac, padFrame, tcp, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, udp,
} from '../src/packet/pcap/synthetic.js';
import type { TcpFields } from '../src/packet/pcap/synthetic.js';

const LAPTOP_MAC = mac('02:00:00:00:00:23');
const GW_MAC = mac('02:00:00:00:00:01');
const SERVER_MAC = mac('02:00:00:00:00:10');
const LAPTOP = addr('192.168.1.23');
const GW = addr('192.168.1.1');
const SERVER = addr('192.168.1.10');
const WEB = addr('93.184.216.34');
const LAPTOP6 = addr('2001:db8:1::23');
const GW6 = addr('2001:db8:1::1');

const text = (s: string) => new TextEncoder().encode(s);

function tcp4(smac: Uint8Array, dmac: Uint8Array, src: Uint8Array, dst: Uint8Array, f: TcpFields, ttl = 64): Uint8Array {
  return padFrame(ether(dmac, smac, ETHERTYPE_IPV4, ipv4(src, dst, IPPROTO_TCP, tcp(src, dst, f), { ttl })));
}

export function demoFrames(): Uint8Array[] {
  const frames: Uint8Array[] = [];
  // ARP: who has the gateway?
  frames.push(padFrame(ether(mac('ff:ff:ff:ff:ff:ff'), LAPTOP_MAC, ETHERTYPE_ARP, arp(1, LAPTOP_MAC, LAPTOP, new Uint8Array(6), GW))));
  frames.push(padFrame(ether(LAPTOP_MAC, GW_MAC, ETHERTYPE_ARP, arp(2, GW_MAC, GW, LAPTOP_MAC, LAPTOP))));
  // DNS over UDP to the gateway's resolver.
  const q = dnsQuery(0x4d2e, 'example.com');
  frames.push(padFrame(ether(GW_MAC, LAPTOP_MAC, ETHERTYPE_IPV4, ipv4(LAPTOP, GW, IPPROTO_UDP, udp(LAPTOP, GW, 53124, 53, q), { id: 0x1c46 }))));
  const a = dnsAnswerA(0x4d2e, 'example.com', WEB, 3600);
  frames.push(padFrame(ether(LAPTOP_MAC, GW_MAC, ETHERTYPE_IPV4, ipv4(GW, LAPTOP, IPPROTO_UDP, udp(GW, LAPTOP, 53, 53124, a), { id: 0x7a01 }))));
  // HTTP to example.com: handshake, request, response, close.
  const out = (f: Omit<TcpFields, 'sport' | 'dport'>) => tcp4(LAPTOP_MAC, GW_MAC, LAPTOP, WEB, { sport: 51514, dport: 80, ...f });
  const back = (f: Omit<TcpFields, 'sport' | 'dport'>) => tcp4(GW_MAC, LAPTOP_MAC, WEB, LAPTOP, { sport: 80, dport: 51514, ...f }, 55);
  const req = text('GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n');
  const resp = text('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 22\r\n\r\n<p>Example Domain</p>\n');
  const c = 0x1a2b3c4d, s = 0x5e6f7081;
  frames.push(out({ seq: c, flags: TCP_SYN, mss: 1460 }));
  frames.push(back({ seq: s, ack: c + 1, flags: TCP_SYN | TCP_ACK, mss: 1460 }));
  frames.push(out({ seq: c + 1, ack: s + 1, flags: TCP_ACK }));
  frames.push(out({ seq: c + 1, ack: s + 1, flags: TCP_PSH | TCP_ACK, payload: req }));
  frames.push(back({ seq: s + 1, ack: c + 1 + req.length, flags: TCP_ACK }));
  frames.push(back({ seq: s + 1, ack: c + 1 + req.length, flags: TCP_PSH | TCP_ACK, payload: resp }));
  frames.push(out({ seq: c + 1 + req.length, ack: s + 1 + resp.length, flags: TCP_FIN | TCP_ACK }));
  frames.push(back({ seq: s + 1 + resp.length, ack: c + 2 + req.length, flags: TCP_FIN | TCP_ACK }));
  frames.push(out({ seq: c + 2 + req.length, ack: s + 2 + resp.length, flags: TCP_ACK }));
  // ping the gateway, IPv4 then IPv6.
  const ping = Uint8Array.from({ length: 48 }, (_, i) => 0x10 + i);
  frames.push(padFrame(ether(GW_MAC, LAPTOP_MAC, ETHERTYPE_IPV4, ipv4(LAPTOP, GW, IPPROTO_ICMP, icmpEcho(8, 0x0b1e, 1, ping), { id: 0x2222 }))));
  frames.push(padFrame(ether(LAPTOP_MAC, GW_MAC, ETHERTYPE_IPV4, ipv4(GW, LAPTOP, IPPROTO_ICMP, icmpEcho(0, 0x0b1e, 1, ping), { id: 0x9f31 }))));
  frames.push(ether(GW_MAC, LAPTOP_MAC, ETHERTYPE_IPV6, ipv6(LAPTOP6, GW6, IPPROTO_ICMPV6, icmp6Echo(LAPTOP6, GW6, 128, 0x0b1f, 1, ping))));
  frames.push(ether(LAPTOP_MAC, GW_MAC, ETHERTYPE_IPV6, ipv6(GW6, LAPTOP6, IPPROTO_ICMPV6, icmp6Echo(GW6, LAPTOP6, 129, 0x0b1f, 1, ping))));
  // SSH to the office server: handshake.
  const d = 0x22000000, e = 0x33000000;
  frames.push(tcp4(LAPTOP_MAC, SERVER_MAC, LAPTOP, SERVER, { sport: 52000, dport: 22, seq: d, flags: TCP_SYN, mss: 1460 }));
  frames.push(tcp4(SERVER_MAC, LAPTOP_MAC, SERVER, LAPTOP, { sport: 22, dport: 52000, seq: e, ack: d + 1, flags: TCP_SYN | TCP_ACK, mss: 1460 }));
  frames.push(tcp4(LAPTOP_MAC, SERVER_MAC, LAPTOP, SERVER, { sport: 52000, dport: 22, seq: d + 1, ack: e + 1, flags: TCP_ACK }));
  // telnet to the server: refused.
  frames.push(tcp4(LAPTOP_MAC, SERVER_MAC, LAPTOP, SERVER, { sport: 52001, dport: 23, seq: 0x44000000, flags: TCP_SYN, mss: 1460 }));
  frames.push(tcp4(SERVER_MAC, LAPTOP_MAC, SERVER, LAPTOP, { sport: 23, dport: 52001, seq: 0, ack: 0x44000001, flags: TCP_RST | TCP_ACK, window: 0 }));
  return frames;
}

/** The demo capture's records: one frame every ~120 ms from 2025-11-28 09:00:00 UTC. */
export function demoRecords(): WritableRecord[] {
  return demoFrames().map((data, i) => ({ tsSec: 1764320400 + Math.floor(i / 8), tsNsec: (i % 8) * 120_000_000 + i * 1_000, data, linkType: LINKTYPE_ETHERNET }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const target = process.argv[2] ?? fileURLToPath(new URL('../../data/demo.pcap', import.meta.url));
  const n = await writePcapFile(target, demoRecords(), { linkType: LINKTYPE_ETHERNET });
  console.log(`wrote ${n} packets to ${target}`);
}
