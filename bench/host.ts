/**
 * The host's packet path: a 1,000,000-packet capture of LAN↔WAN traffic
 * (TCP connections out through the masquerade, their replies, DNS, pings,
 * the port forward from the WAN, blocklisted sources) replayed through the
 * bundled demo gateway (data/demo/gateway.nfx: stateful firewall, conntrack,
 * NAT) with HostPath in its fast mode (`detail: false`). The cost per stage
 * comes from differences in the same run: reading the capture (the
 * baseline), the path with an empty ruleset (receive checks, routing,
 * neighbour, transmit: no conntrack), the full ruleset (+ nf_tables,
 * conntrack, NAT), and the full ruleset with steps and rule events recorded
 * (what `nfx inject`/`why` pay). The issue's goal is ≥ 1 Mpps on one core.
 * NFX_BENCH_HOST_PACKETS=N runs fewer packets.
 */
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { buildGateway } from '../src/cli/commands/demo.js';
import { HostPath, openPath } from '../src/host/path/index.js';
import type { HostPathOptions } from '../src/host/path/index.js';
import { LINKTYPE_ETHERNET, PcapWriter, readCapture } from '../src/packet/pcap/index.js';
import {
  addr, dnsAnswerA, dnsQuery, ether, ETHERTYPE_IPV4, ETHERTYPE_IPV6, icmpEcho, ipv4, ipv6, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP,
  mac, padFrame, tcp, TCP_ACK, TCP_PSH, TCP_SYN, udp,
} from '../src/packet/pcap/synthetic.js';
import type { Harness } from './harness.js';

const PACKETS = Number(process.env.NFX_BENCH_HOST_PACKETS ?? 1_000_000);

/** The gateway's ports and the stations in front of them (data/demo/gateway.nfx). */
const GW = { lan0: mac('02:00:00:00:01:01'), wan0: mac('02:00:00:00:03:02'), isp: mac('02:00:00:00:03:01') };
const WAN_ADDR = addr('203.0.113.2');

/** One cycle of traffic: per LAN station and server a connection's life, DNS and a ping; the port forward; a blocked source. */
function trafficMix(): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const body = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
  const stations = [{ m: mac('02:00:00:00:01:23'), a: addr('192.168.1.23') }, { m: mac('02:00:00:00:01:42'), a: addr('192.168.1.42') }];
  for (let s = 0; s < 16; s++) {
    const st = stations[s % 2]!;
    const srv = addr(`93.184.216.${30 + s}`);
    const sport = 40000 + s * 7;
    const up = (f: Parameters<typeof tcp>[2]) => padFrame(ether(GW.lan0, st.m, ETHERTYPE_IPV4, ipv4(st.a, srv, IPPROTO_TCP, tcp(st.a, srv, f), { id: s, df: true })));
    // Replies come to the masqueraded address; masquerade keeps a free source port.
    const down = (f: Parameters<typeof tcp>[2]) => padFrame(ether(GW.wan0, GW.isp, ETHERTYPE_IPV4, ipv4(srv, WAN_ADDR, IPPROTO_TCP, tcp(srv, WAN_ADDR, f), { ttl: 54, df: true })));
    frames.push(up({ sport, dport: 443, seq: 1000, flags: TCP_SYN, mss: 1460 }));
    frames.push(down({ sport: 443, dport: sport, seq: 5000, ack: 1001, flags: TCP_SYN | TCP_ACK, mss: 1460 }));
    frames.push(up({ sport, dport: 443, seq: 1001, ack: 5001, flags: TCP_ACK }));
    frames.push(up({ sport, dport: 443, seq: 1001, ack: 5001, flags: TCP_PSH | TCP_ACK, payload: body(517, s) }));
    frames.push(down({ sport: 443, dport: sport, seq: 5001, ack: 1518, flags: TCP_ACK, payload: body(1400, s) }));
    frames.push(up({ sport, dport: 443, seq: 1518, ack: 6401, flags: TCP_ACK }));
    const resolver = addr('198.51.100.53');
    frames.push(padFrame(ether(GW.lan0, st.m, ETHERTYPE_IPV4, ipv4(st.a, resolver, IPPROTO_UDP, udp(st.a, resolver, 50000 + s, 53, dnsQuery(0x1000 + s, `host${s}.example.com`))))));
    frames.push(padFrame(ether(GW.wan0, GW.isp, ETHERTYPE_IPV4, ipv4(resolver, WAN_ADDR, IPPROTO_UDP, udp(resolver, WAN_ADDR, 53, 50000 + s, dnsAnswerA(0x1000 + s, `host${s}.example.com`, srv))))));
    if (s % 4 === 0) {
      frames.push(padFrame(ether(GW.lan0, st.m, ETHERTYPE_IPV4, ipv4(st.a, srv, IPPROTO_ICMP, icmpEcho(8, s, 1, body(56, s))))));
      frames.push(padFrame(ether(GW.wan0, GW.isp, ETHERTYPE_IPV4, ipv4(srv, WAN_ADDR, IPPROTO_ICMP, icmpEcho(0, s, 1, body(56, s))))));
      // The port forward: a WAN client to 8080 (dnat to the DMZ web server).
      const c = addr(`198.51.100.${100 + s}`);
      frames.push(padFrame(ether(GW.wan0, GW.isp, ETHERTYPE_IPV4, ipv4(c, WAN_ADDR, IPPROTO_TCP, tcp(c, WAN_ADDR, { sport: 33000 + s, dport: 8080, seq: 1, flags: TCP_SYN })))));
      // A blocklisted source: dropped in prerouting.
      const bad = addr('198.51.100.66');
      frames.push(padFrame(ether(GW.wan0, GW.isp, ETHERTYPE_IPV4, ipv4(bad, WAN_ADDR, IPPROTO_TCP, tcp(bad, WAN_ADDR, { sport: 666, dport: 22, seq: 1, flags: TCP_SYN })))));
      const l6 = addr('2001:db8:1::23'), r6 = addr(`2001:db8:ff::${s + 1}`);
      frames.push(ether(GW.lan0, stations[0]!.m, ETHERTYPE_IPV6, ipv6(l6, r6, IPPROTO_TCP, tcp(l6, r6, { sport, dport: 443, seq: 9, ack: 7, flags: TCP_ACK, payload: body(200, s) }))));
    }
  }
  return frames;
}

function writeCapture(file: string, frames: Uint8Array[]): void {
  const fd = openSync(file, 'w');
  try {
    const w = new PcapWriter({ linkType: LINKTYPE_ETHERNET }, { fd });
    const t0 = 1764320400;
    for (let i = 0; i < PACKETS; i++) w.write({ tsSec: t0 + Math.floor(i / 20000), tsNsec: (i % 20000) * 50_000, data: frames[i % frames.length]! });
    w.close();
  } finally {
    closeSync(fd);
  }
}

interface Rec { port: string; data: Uint8Array; ms: number }

export async function bench(h: Harness): Promise<void> {
  const dir = await h.tempDir();
  const file = join(dir, 'host.pcap');
  const mix = trafficMix();
  writeCapture(file, mix);
  h.note(`capture: ${PACKETS.toLocaleString('en-US')} packets cycling ${mix.length} frames of LAN↔WAN flows`);

  const recs: Rec[] = [];
  const lan = Buffer.from(GW.lan0);
  await h.time('read the capture (baseline)', PACKETS, 'packets', async () => {
    recs.length = 0;
    for await (const r of readCapture(file)) {
      recs.push({ port: lan.equals(r.data.subarray(0, 6)) ? 'lan0' : 'wan0', data: r.data.slice(), ms: r.tsSec * 1000 + r.tsNsec / 1e6 });
    }
  });

  const host = await buildGateway();
  const fates = new Map<string, number>();
  const replay = (o: HostPathOptions, n = recs.length, count = false): void => {
    const path = new HostPath(host, o);
    const clock = path.clock as { set?: (ms: number) => void };
    for (let i = 0; i < n; i++) {
      const r = recs[i]!;
      clock.set?.(r.ms);
      const out = path.receive(r.port, r.data);
      if (count) fates.set(out.fate, (fates.get(out.fate) ?? 0) + 1);
    }
  };

  const empty = await h.time('path, empty ruleset (no conntrack)', recs.length, 'packets', () => replay({ detail: false }));
  const full0 = openPath(host);
  const fullOpts = (detail: boolean): HostPathOptions => {
    // A fresh conntrack table per run, so every run starts from the same state.
    const p = openPath(host);
    const o: HostPathOptions = { ruleset: p.ruleset, clock: p.clock, detail };
    if (p.ct) o.conntrack = p.ct;
    return o;
  };
  const full = await h.time('path, demo ruleset + conntrack + NAT', recs.length, 'packets', () => replay(fullOpts(false), recs.length, true));
  const nDetail = Math.min(recs.length, 100_000);
  const detail = await h.time(`same, steps and rule events kept (${nDetail.toLocaleString('en-US')})`, nDetail, 'packets', () => replay(fullOpts(true), nDetail));

  const perPkt = (f: { seconds: number; items: number }) => (f.seconds / f.items) * 1e9;
  h.note(`fates: ${[...fates].map(([k, v]) => `${k} ${v}`).join(', ')}; conntrack in use: ${full0.ct ? 'yes' : 'no'}`);
  h.note(`cost per packet: path alone ${perPkt(empty).toFixed(0)} ns; + nf_tables, conntrack, NAT ${(perPkt(full) - perPkt(empty)).toFixed(0)} ns; ` +
    `+ trace detail ${(perPkt(detail) - perPkt(full)).toFixed(0)} ns`);
  h.note(`goal ≥ 1,000,000 packets/s on one core: ${full.perSecond >= 1e6 ? 'met' : `not met (${(full.perSecond / 1e6).toFixed(2)} Mpps)`}`);
}
