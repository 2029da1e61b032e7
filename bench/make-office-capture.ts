/**
 * The first part of data/demo/office.pcap, the capture `nfx demo` replays:
 * the single-site story, traffic seen on the office gateway's three ports
 * (data/demo/gateway.nfx; every frame is addressed to the port's MAC, which
 * is how the demo knows where it arrived). bench/make-sites-capture.ts
 * appends the two-site part and writes the file.
 *
 * The story, in order: a laptop resolves a name and browses out through the
 * masquerade (the replies come back to the gateway's WAN address); a PC pings
 * out; the laptop pings the gateway over IPv6; a visitor on the internet opens
 * the office web site through the port forward (WAN :8080 → DMZ 10.0.2.80:80);
 * a blocklisted scanner knocks; someone tries SSH on the WAN address; a ping
 * flood meets the rate limit; a traceroute probe with TTL 1 expires at the
 * gateway; the DMZ server looks something up, then tries to reach a LAN PC.
 *
 * Every packet is a scapy-style expression built by `packetFromExpression`;
 * TCP sequence numbers follow each connection so conntrack's window tracking
 * accepts them. The output is deterministic. `node dist/bench/make-office-capture.js OUT`
 * writes this part alone (the kernel differential test replays just it).
 */
import { fileURLToPath } from 'node:url';
import { LINKTYPE_ETHERNET, writePcapFile } from '../src/packet/pcap/index.js';
import type { WritableRecord } from '../src/packet/pcap/index.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';

/** The gateway's ports (data/demo/gateway.nfx) and the stations in front of them. */
export const OFFICE = {
  lan0: '02:00:00:00:01:01', dmz0: '02:00:00:00:02:01', wan0: '02:00:00:00:03:02',
  laptop: '02:00:00:00:01:23', pc: '02:00:00:00:01:42', web: '02:00:00:00:02:50', isp: '02:00:00:00:03:01',
  wanAddr: '203.0.113.2',
} as const;

/** 2025-11-28 09:00:00 UTC, the capture's first second. */
export const OFFICE_EPOCH = 1764320400;

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** `Raw(load=b"\x..")`: any bytes, escaped so the expression scanner reads them back exactly. */
export function raw(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += `\\x${x.toString(16).padStart(2, '0')}`;
  return `Raw(load=b"${s}")`;
}

function dnsName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.split('.')) out.push(label.length, ...enc(label));
  out.push(0);
  return out;
}

/** RFC 1035 §4.1: one question, recursion desired; QTYPE A, QCLASS IN. */
function dnsQuery(id: number, name: string): Uint8Array {
  return Uint8Array.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...dnsName(name), 0, 1, 0, 1]);
}

/** The answer: the question again and one A record pointing back at it (RFC 1035 §4.1.4 compression). */
function dnsAnswer(id: number, name: string, a: string, ttl: number): Uint8Array {
  const ip = a.split('.').map(Number);
  return Uint8Array.from([id >> 8, id & 0xff, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, ...dnsName(name), 0, 1, 0, 1,
    0xc0, 0x0c, 0, 1, 0, 1, ttl >>> 24, (ttl >> 16) & 0xff, (ttl >> 8) & 0xff, ttl & 0xff, 0, 4, ...ip]);
}

export interface Shot { ms: number; expr: string }

/** One TCP connection's segments with sequence numbers that follow the byte stream. */
export class TcpFlow {
  private c: number;
  private s: number;
  constructor(private readonly out: (tcp: string) => string, private readonly back: (tcp: string) => string,
    private readonly sport: number, private readonly dport: number, isnC: number, isnS: number) {
    this.c = isnC; this.s = isnS;
  }
  private seg(fromClient: boolean, flags: string, payload?: Uint8Array, extra = ''): string {
    const [sp, dp, seq, ack] = fromClient ? [this.sport, this.dport, this.c, this.s] : [this.dport, this.sport, this.s, this.c];
    const ackPart = flags.includes('A') ? `,ack=${ack}` : '';
    const tcp = `TCP(sport=${sp},dport=${dp},seq=${seq}${ackPart},flags="${flags}",window=64240${extra})`;
    const body = payload ? `/${raw(payload)}` : '';
    const adv = (payload?.length ?? 0) + (flags.includes('S') || flags.includes('F') ? 1 : 0);
    if (fromClient) this.c = (this.c + adv) >>> 0; else this.s = (this.s + adv) >>> 0;
    return (fromClient ? this.out : this.back)(tcp + body);
  }
  /** Takes back the last `n` bytes the client sent (a segment that never arrived, sent again smaller). */
  rewind(n: number): void { this.c = (this.c - n) >>> 0; }
  client(flags: string, payload?: Uint8Array): string { return this.seg(true, flags, payload, flags === 'S' ? ',options=[("MSS",1460)]' : ''); }
  server(flags: string, payload?: Uint8Array): string { return this.seg(false, flags, payload, flags === 'SA' ? ',options=[("MSS",1460)]' : ''); }
}

const eth = (src: string, dst: string): string => `Ether(src="${src}",dst="${dst}")`;
const fromLaptop = (ip: string): string => `${eth(OFFICE.laptop, OFFICE.lan0)}/IP(src="192.168.1.23",${ip})`;
const fromPc = (ip: string): string => `${eth(OFFICE.pc, OFFICE.lan0)}/IP(src="192.168.1.42",${ip})`;
const fromWan = (src: string, ip = ''): string => `${eth(OFFICE.isp, OFFICE.wan0)}/IP(src="${src}",dst="${OFFICE.wanAddr}",ttl=52${ip})`;
const fromDmz = (ip: string): string => `${eth(OFFICE.web, OFFICE.dmz0)}/IP(src="10.0.2.80",${ip})`;

/** The capture as expressions with their times (ms after OFFICE_EPOCH). */
export function officeShots(): Shot[] {
  const shots: Shot[] = [];
  let t = 0;
  const at = (dt: number, expr: string): void => { t += dt; shots.push({ ms: t, expr }); };

  // 1. The laptop resolves www.example.com through the ISP's resolver: out masqueraded, the answer back.
  at(0, `${fromLaptop('dst="198.51.100.53",id=0x1c46')}/UDP(sport=53124,dport=53)/${raw(dnsQuery(0x4d2e, 'www.example.com'))}`);
  at(21, `${fromWan('198.51.100.53', ',id=0x7a01')}/UDP(sport=53,dport=53124)/${raw(dnsAnswer(0x4d2e, 'www.example.com', '198.51.100.80', 3600))}`);

  // 2. ... and fetches a page over HTTPS: handshake, a request, the answer, close.
  const https = new TcpFlow(
    (tcp) => `${fromLaptop('dst="198.51.100.80"')}/${tcp}`,
    (tcp) => `${eth(OFFICE.isp, OFFICE.wan0)}/IP(src="198.51.100.80",dst="${OFFICE.wanAddr}",ttl=55)/${tcp}`,
    51514, 443, 0x1a2b3c4d, 0x5e6f7081);
  const hello = Uint8Array.from({ length: 96 }, (_, i) => (i < 5 ? [0x16, 0x03, 0x01, 0x00, 0x5b][i]! : (i * 37) & 0xff));
  const answer = Uint8Array.from({ length: 240 }, (_, i) => (i < 5 ? [0x17, 0x03, 0x03, 0x00, 0xeb][i]! : (i * 53 + 7) & 0xff));
  at(30, https.client('S'));
  at(18, https.server('SA'));
  at(1, https.client('A'));
  at(1, https.client('PA', hello));
  at(20, https.server('PA', answer));
  at(1, https.client('A'));
  at(400, https.client('FA'));
  at(18, https.server('FA'));
  at(1, https.client('A'));

  // 3. The PC pings the web server; the echo reply comes back to the masqueraded address.
  at(500, `${fromPc('dst="198.51.100.80"')}/ICMP(type=8,id=0x0b1e,seq=1)/${raw(enc('nfx demo ping    '))}`);
  at(18, `${fromWan('198.51.100.80')}/ICMP(type=0,id=0x0b1e,seq=1)/${raw(enc('nfx demo ping    '))}`);

  // 4. The laptop pings the gateway over IPv6: the gateway answers itself.
  at(300, `${eth(OFFICE.laptop, OFFICE.lan0)}/IPv6(src="2001:db8:1::23",dst="2001:db8:1::1")/ICMPv6EchoRequest(id=0x0b1f,seq=1)`);

  // 5. A visitor opens the office web site: WAN :8080 is forwarded to the DMZ server's :80.
  const site = new TcpFlow(
    (tcp) => `${fromWan('198.51.100.7')}/${tcp.replace('dport=80,', 'dport=8080,')}`,
    (tcp) => `${fromDmz('dst="198.51.100.7"')}/${tcp}`,
    40123, 80, 0x70000001, 0x0a0b0c0d);
  const get = enc('GET / HTTP/1.1\r\nHost: office.example\r\n\r\n');
  const page = enc('HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\n<h1>Office web site</h1>\n\n');
  at(700, site.client('S'));
  at(1, site.server('SA'));
  at(25, site.client('A'));
  at(1, site.client('PA', get));
  at(2, site.server('PA', page));
  at(25, site.client('FA'));
  at(1, site.server('FA'));
  at(25, site.client('A'));

  // 6. A blocklisted scanner knocks on the port forward, and an abusive host on DNS.
  at(900, `${fromWan('192.0.2.13')}/TCP(sport=61000,dport=8080,flags="S",seq=1000)`);
  at(5, `${fromWan('198.51.100.66')}/UDP(sport=5353,dport=53)/${raw(dnsQuery(0x0bad, 'office.example'))}`);

  // 7. Someone tries SSH on the gateway's WAN address, and tries again a second later.
  at(800, `${fromWan('198.51.100.99')}/TCP(sport=50022,dport=22,flags="S",seq=0x22000000,options=[("MSS",1460)])`);
  at(1000, `${fromWan('198.51.100.99')}/TCP(sport=50022,dport=22,flags="S",seq=0x22000000,options=[("MSS",1460)])`);

  // 8. A ping flood from the WAN: ten echo requests in 90 ms meet `limit rate over 2/second burst 4 packets`.
  for (let i = 1; i <= 10; i++) at(i === 1 ? 700 : 10, `${fromWan('198.51.100.77')}/ICMP(type=8,id=0x4242,seq=${i})/${raw(new Uint8Array(56))}`);

  // 9. A traceroute probe with TTL 1 expires at the gateway: ICMP time exceeded back to the laptop.
  at(900, `${fromLaptop('dst="198.51.100.80",ttl=1,id=0x3001')}/UDP(sport=44444,dport=33434)/${raw(new Uint8Array(32))}`);

  // 10. The DMZ server resolves a name (allowed out, masqueraded) ...
  at(600, `${fromDmz('dst="198.51.100.53",id=0x0d01')}/UDP(sport=40001,dport=53)/${raw(dnsQuery(0x1234, 'updates.example'))}`);
  at(20, `${fromWan('198.51.100.53', ',id=0x7a02')}/UDP(sport=53,dport=40001)/${raw(dnsAnswer(0x1234, 'updates.example', '198.51.100.90', 300))}`);
  // ... and then tries to reach a LAN PC, which the forward policy does not allow.
  at(300, `${fromDmz('dst="192.168.1.42"')}/TCP(sport=49152,dport=445,flags="S",seq=0x44000000,options=[("MSS",1460)])`);

  return shots;
}

/** The capture's records, Ethernet frames with their times. */
export function officeRecords(): WritableRecord[] {
  return officeShots().map(({ ms, expr }) => {
    const whole = OFFICE_EPOCH * 1000 + ms;
    return { tsSec: Math.floor(whole / 1000), tsNsec: (whole % 1000) * 1_000_000, data: packetFromExpression(expr), linkType: LINKTYPE_ETHERNET };
  });
}

/** The single-site part alone (the office's forty frames), as a capture file. */
export async function writeOfficeOnlyCapture(path: string): Promise<number> {
  return writePcapFile(path, officeRecords(), { linkType: LINKTYPE_ETHERNET });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // The bundled capture has the branch's part too: bench/make-sites-capture.ts writes it.
  const target = process.argv[2];
  if (!target) {
    console.log('data/demo/office.pcap is written by: node dist/bench/make-sites-capture.js');
  } else {
    const n = await writeOfficeOnlyCapture(target);
    console.log(`wrote ${n} packets (the office part alone) to ${target}`);
  }
}
