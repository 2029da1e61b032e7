/**
 * pcap read and read+dissect throughput on a 1,000,000-packet capture, with
 * tshark reading the same file as the baseline:
 *   tshark -r FILE -T fields -e frame.number
 * (tshark dissects every frame fully to print even one field, so this is
 * "read + dissect" for it.) The capture is a realistic mix — mostly small
 * TCP ACKs and DNS, some full-size TCP data, IPv6, ICMP, ARP — written by
 * nfx's own PcapWriter into a temporary directory and deleted afterwards.
 * NFX_BENCH_PCAP_PACKETS=N runs it on fewer packets for a quick look.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { linkL3, LINKTYPE_ETHERNET, PcapWriter, readCapture } from '../src/packet/pcap/index.js';
import {
  addr, arp, dnsAnswerA, dnsQuery, ether, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, icmp6Echo, icmpEcho, ipv4, ipv6,
  IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, mac, padFrame, tcp, TCP_ACK, TCP_PSH, TCP_SYN, udp,
} from '../src/packet/pcap/synthetic.js';
import { dissect } from '../src/packet/dissect.js';
import type { Harness } from './harness.js';

const PACKETS = Number(process.env.NFX_BENCH_PCAP_PACKETS ?? 1_000_000);

/** ~100 distinct frames in realistic proportions; the capture cycles through them. */
function trafficMix(): Uint8Array[] {
  const gw = mac('00:1b:21:3a:4f:01');
  const frames: Uint8Array[] = [];
  const body = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
  for (let host = 0; host < 12; host++) {
    const hmac = mac(`02:00:5e:10:00:${(0x10 + host).toString(16)}`);
    const h4 = addr(`192.168.1.${20 + host}`);
    const s4 = addr(`93.184.216.${30 + host}`);
    const h6 = addr(`2001:db8:1::${(0x20 + host).toString(16)}`);
    const s6 = addr(`2001:db8:ff::${(0x30 + host).toString(16)}`);
    const sport = 40000 + host * 17;
    const up = (f: Parameters<typeof tcp>[2]) => ether(gw, hmac, ETHERTYPE_IPV4, ipv4(h4, s4, IPPROTO_TCP, tcp(h4, s4, f), { id: host }));
    const down = (f: Parameters<typeof tcp>[2]) => ether(hmac, gw, ETHERTYPE_IPV4, ipv4(s4, h4, IPPROTO_TCP, tcp(s4, h4, f), { ttl: 54 }));
    // IMIX-like: for each large segment several small ACKs and a medium one.
    frames.push(padFrame(up({ sport, dport: 443, seq: 1000, flags: TCP_SYN, mss: 1460 })));
    frames.push(padFrame(down({ sport: 443, dport: sport, seq: 5000, ack: 1001, flags: TCP_SYN | TCP_ACK, mss: 1460 })));
    for (let i = 0; i < 3; i++) frames.push(padFrame(up({ sport, dport: 443, seq: 1001 + i * 517, ack: 5001 + i * 1460, flags: TCP_ACK })));
    frames.push(up({ sport, dport: 443, seq: 1001, ack: 5001, flags: TCP_PSH | TCP_ACK, payload: body(517, host) }));
    frames.push(down({ sport: 443, dport: sport, seq: 5001, ack: 1518, flags: TCP_ACK, payload: body(1460, host) }));
    const dq = dnsQuery(0x1000 + host, `host${host}.example.com`);
    frames.push(padFrame(ether(gw, hmac, ETHERTYPE_IPV4, ipv4(h4, addr('192.168.1.1'), IPPROTO_UDP, udp(h4, addr('192.168.1.1'), 50000 + host, 53, dq)))));
    const da = dnsAnswerA(0x1000 + host, `host${host}.example.com`, s4);
    frames.push(padFrame(ether(hmac, gw, ETHERTYPE_IPV4, ipv4(addr('192.168.1.1'), h4, IPPROTO_UDP, udp(addr('192.168.1.1'), h4, 53, 50000 + host, da)))));
    frames.push(ether(gw, hmac, ETHERTYPE_IPV6, ipv6(h6, s6, IPPROTO_TCP, tcp(h6, s6, { sport, dport: 443, seq: 9, ack: 7, flags: TCP_ACK, payload: body(200, host) }))));
    if (host % 3 === 0) {
      frames.push(padFrame(ether(gw, hmac, ETHERTYPE_IPV4, ipv4(h4, s4, IPPROTO_ICMP, icmpEcho(8, host, 1, body(56, host))))));
      frames.push(ether(gw, hmac, ETHERTYPE_IPV6, ipv6(h6, s6, IPPROTO_ICMPV6, icmp6Echo(h6, s6, 128, host, 1, body(56, host)))));
      frames.push(padFrame(ether(mac('ff:ff:ff:ff:ff:ff'), hmac, ETHERTYPE_ARP, arp(1, hmac, h4, new Uint8Array(6), addr('192.168.1.1')))));
    }
  }
  return frames;
}

function writeCapture(file: string, frames: Uint8Array[]): number {
  const fd = openSync(file, 'w');
  let bytes = 0;
  try {
    const w = new PcapWriter({ linkType: LINKTYPE_ETHERNET }, { fd });
    const t0 = 1764320400; // 2025-11-28 09:00:00 UTC
    for (let i = 0; i < PACKETS; i++) {
      const data = frames[i % frames.length]!;
      w.write({ tsSec: t0 + Math.floor(i / 20000), tsNsec: (i % 20000) * 50_000, data });
      bytes += data.length;
    }
    w.close();
  } finally {
    closeSync(fd);
  }
  return bytes;
}

/** The children's user + system time from the second line of sh's `times` ("0m51.2s 0m1.3s"). */
function childCpuSeconds(times: string): number | undefined {
  const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s\s*$/.exec(times.trim());
  return m === null ? undefined : Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
}

export async function bench(h: Harness): Promise<void> {
  const dir = await h.tempDir();
  const file = join(dir, 'mix.pcap');
  const frames = trafficMix();
  await h.time('nfx write (PcapWriter, to a file)', PACKETS, 'packets', () => writeCapture(file, frames));
  const size = statSync(file).size;
  h.note('nfx read = readCapture (streaming, 1 MiB window); tshark = tshark -r FILE -T fields -e frame.number');
  h.note(`capture: ${PACKETS.toLocaleString('en-US')} packets, ${(size / 2 ** 20).toFixed(1)} MiB, ${frames.length} distinct frames`);

  const read = await h.time('nfx read', PACKETS, 'packets', async () => {
    let count = 0;
    for await (const r of readCapture(file)) count += r.data.length > 0 ? 1 : 0;
    if (count !== PACKETS) throw new Error(`read ${count} packets, wrote ${PACKETS}`);
  }, 3);

  const out = { protocol: 0, offset: 0 };
  let l3 = 0;
  const strip = await h.time('nfx read + linkL3', PACKETS, 'packets', async () => {
    for await (const r of readCapture(file)) if (linkL3(r.linkType, r.data, out) !== null) l3 += out.offset;
  }, 3);

  const dissected = await h.time('nfx read + dissect', PACKETS, 'packets', async () => {
    for await (const r of readCapture(file)) dissect(r.data, r.linkType);
  });

  if (!h.has('tshark')) {
    h.note('tshark not installed: no baseline (apt-get install tshark)');
    return;
  }
  // Through sh so that `times` reports tshark's CPU time (the shell's children) besides the wall time.
  const script = 'tshark -r "$0" -T fields -e frame.number >/dev/null || exit $?; times';
  const t0 = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', script, file], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`tshark failed (${r.status}): ${r.stderr}`);
  const tshark = h.record('tshark', PACKETS, 'packets', seconds, childCpuSeconds(r.stdout));
  h.ratio(read, tshark);
  h.ratio(strip, tshark);
  h.ratio(dissected, tshark);
  if (l3 === 0) throw new Error('no layer 3 found');
}
