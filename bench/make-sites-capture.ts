/**
 * Writes data/demo/office.pcap, the capture `nfx demo` replays through its
 * two sites: the office's single-site story (bench/make-office-capture.ts),
 * then the branch office joined by the IPsec tunnel.
 *
 * The two-site part, in order: the laptop opens SMB to the branch file
 * server through the tunnel and writes a full-size segment with DF, which
 * the tunnel's overhead makes too big (ICMP fragmentation needed, MTU 1446),
 * then sends it again smaller; a branch PC pings an office PC; the laptop
 * pings the branch gateway itself. Then the IPsec drops:
 *   - a packet for the third site, whose SA is not negotiated yet (XfrmOutNoStates),
 *   - ESP for the SPI the last rekey retired (XfrmInNoStates),
 *   - the branch lab's traffic, which the branch tunnels but no office
 *     policy admits (XfrmInNoPols),
 *   - the branch guest Wi-Fi, which an office policy blocks (XfrmInPolBlock),
 *   - a byte-for-byte copy of the branch's first ESP packet, replayed by
 *     someone on the ISP segment (XfrmInStateSeqError),
 *   - the branch's next ESP packet with one bit of its ICV flipped on the
 *     way (XfrmInStateProtoError),
 *   - a branch address arriving in clear where the tunnel is required
 *     (XfrmInTmplMismatch).
 * The replayed copy is taken from what the branch really sent: the
 * generator replays the capture up to that point through both gateways (the
 * demo's own scenario) and picks the branch's first ESP frame off the wan
 * wire; the corrupted packet is ESP made with the branch's SA at its next
 * sequence number. The output is deterministic, and a test checks the
 * bundled file equals it: `node dist/bench/make-sites-capture.js [OUT]`.
 */
import { fileURLToPath } from 'node:url';
import { LINKTYPE_ETHERNET, writePcapFile } from '../src/packet/pcap/index.js';
import type { WritableRecord } from '../src/packet/pcap/index.js';
import { packetFromExpression } from '../src/packet/scapy/index.js';
import { Packet } from '../src/packet/packet.js';
import { espSaConfigFromXfrm } from '../src/xfrm/index.js';
import { createEspSa, espOutput } from '../src/xfrm/esp/index.js';
import { replayScenario } from '../src/demo/scenario.js';
import type { ReplayPacket } from '../src/demo/sites.js';
import { buildDemoScenario } from '../src/cli/commands/demo.js';
import { OFFICE, OFFICE_EPOCH, TcpFlow, enc, officeRecords, officeShots, raw } from './make-office-capture.js';
import type { Shot } from './make-office-capture.js';

/** The branch gateway's ports (data/demo/branch.nfx) and the stations in front of them. */
export const BRANCH = {
  lan0: '02:00:00:00:21:01', lab0: '02:00:00:00:22:01', wan0: '02:00:00:00:23:02',
  server: '02:00:00:00:21:10', pc: '02:00:00:00:21:50', guest: '02:00:00:00:21:c8', bench: '02:00:00:00:22:07',
  wanAddr: '203.0.113.30',
} as const;

const eth = (src: string, dst: string): string => `Ether(src="${src}",dst="${dst}")`;
// The laptop's TCP sets DF, as Linux does for path MTU discovery.
const fromLaptop = (ip: string): string => `${eth(OFFICE.laptop, OFFICE.lan0)}/IP(src="192.168.1.23",${ip})`;
const fromPc = (ip: string): string => `${eth(OFFICE.pc, OFFICE.lan0)}/IP(src="192.168.1.42",${ip})`;
const fromServer = (ip: string): string => `${eth(BRANCH.server, BRANCH.lan0)}/IP(src="192.168.2.10",${ip})`;
const fromBranchPc = (ip: string): string => `${eth(BRANCH.pc, BRANCH.lan0)}/IP(src="192.168.2.50",${ip})`;
const fromGuest = (ip: string): string => `${eth(BRANCH.guest, BRANCH.lan0)}/IP(src="192.168.2.200",${ip})`;
const fromBench = (ip: string): string => `${eth(BRANCH.bench, BRANCH.lab0)}/IP(src="10.99.0.7",${ip})`;
/** Something on the ISP segment, sending to the office's WAN port. */
const fromIsp = (ip: string): string => `${eth(OFFICE.isp, OFFICE.wan0)}/IP(${ip})`;

/** Milliseconds after OFFICE_EPOCH where the two-site part starts: after the office's story. */
function siteStart(): number {
  const office = officeShots();
  return office[office.length - 1]!.ms + 1000;
}

/** The two-site traffic before the attacks on the tunnel (which need what the branch sent). */
export function siteShots(): Shot[] {
  const shots: Shot[] = [];
  let t = siteStart();
  const at = (dt: number, expr: string): void => { t += dt; shots.push({ ms: t, expr }); };

  // 11. The laptop opens SMB on the branch file server: the tunnel carries it both ways.
  const smb = new TcpFlow(
    (tcp) => `${fromLaptop('dst="192.168.2.10",flags="DF"')}/${tcp}`,
    (tcp) => `${fromServer('dst="192.168.1.23",flags="DF"')}/${tcp}`,
    49320, 445, 0x3c000001, 0x5d000001);
  // NetBIOS session messages (RFC 1002 §4.3.6) carrying opaque (encrypted SMB 3) bytes.
  const negotiate = Uint8Array.from({ length: 72 }, (_, i) => (i < 4 ? [0, 0, 0, 68][i]! : (i * 29) & 0x7f));
  const answer = Uint8Array.from({ length: 120 }, (_, i) => (i < 4 ? [0, 0, 0, 116][i]! : (i * 41 + 3) & 0x7f));
  at(0, smb.client('S'));
  at(12, smb.server('SA'));
  at(12, smb.client('A'));
  at(1, smb.client('PA', negotiate));
  at(14, smb.server('PA', answer));
  // 12. ... and writes a file: a full-size 1500-byte segment with DF does not fit the tunnel
  // (ICMP fragmentation needed, MTU 1446); the laptop sends the same bytes again in a 1446-byte packet.
  const block = Uint8Array.from({ length: 1460 }, (_, i) => (i * 7 + 11) & 0xff);
  at(30, smb.client('PA', block));
  smb.rewind(1460);
  at(3, smb.client('PA', block.subarray(0, 1406)));
  at(14, smb.server('A'));

  // 13. A branch PC pings an office PC, which answers.
  at(400, `${fromBranchPc('dst="192.168.1.42"')}/ICMP(type=8,id=0x0c01,seq=1)/${raw(enc('branch to office'))}`);
  at(13, `${fromPc('dst="192.168.2.50"')}/ICMP(type=0,id=0x0c01,seq=1)/${raw(enc('branch to office'))}`);

  // 14. The laptop pings the branch gateway itself: the branch answers through the tunnel.
  at(300, `${fromLaptop('dst="192.168.2.1"')}/ICMP(type=8,id=0x0c02,seq=1)/${raw(enc('hello branch gw'))}`);

  // 15. The laptop tries the third site, announced but not up: no SA yet.
  at(500, `${fromLaptop('dst="192.168.3.20",flags="DF"')}/TCP(sport=49400,dport=443,flags="S",seq=0x3d000000,options=[("MSS",1460)])`);

  // 16. A straggler of the SA the last rekey retired (SPI 0x2000) reaches the office.
  at(300, `${eth(BRANCH.wan0, OFFICE.wan0)}/IP(src="${BRANCH.wanAddr}",dst="${OFFICE.wanAddr}",ttl=64,id=0x2a01)/ESP(spi=0x2000,seq=4711)/${raw(Uint8Array.from({ length: 64 }, (_, i) => (i * 13 + 5) & 0xff))}`);

  // 17. A lab bench at the branch pings an office PC: the branch tunnels it, no office policy covers it.
  at(300, `${fromBench('dst="192.168.1.42"')}/ICMP(type=8,id=0x0c03,seq=1)/${raw(enc('lab bench 7'))}`);

  // 18. A guest at the branch tries remote desktop on an office PC: the office blocks the guest net.
  at(300, `${fromGuest('dst="192.168.1.42",flags="DF"')}/TCP(sport=50200,dport=3389,flags="S",seq=0x3e000000,options=[("MSS",1460)])`);
  return shots;
}

/** Records of shots, Ethernet frames with their times. */
function records(shots: Shot[]): WritableRecord[] {
  return shots.map(({ ms, expr }) => {
    const whole = OFFICE_EPOCH * 1000 + ms;
    return { tsSec: Math.floor(whole / 1000), tsNsec: (whole % 1000) * 1_000_000, data: packetFromExpression(expr), linkType: LINKTYPE_ETHERNET };
  });
}

async function* asPackets(recs: WritableRecord[]): AsyncGenerator<ReplayPacket> {
  for (const r of recs) yield { data: r.data.slice(), l3: false, tsSec: r.tsSec, tsNsec: r.tsNsec, timed: true };
}

function macBytes(m: string): number[] { return m.split(':').map((x) => parseInt(x, 16)); }

/** The whole capture: the office's story, the two sites, and the attacks on the tunnel. */
export async function demoRecords(): Promise<WritableRecord[]> {
  const before = [...officeRecords(), ...records(siteShots())];
  // What the branch sent, by replaying the capture so far through the demo's own two gateways.
  const sc = await buildDemoScenario();
  const fromBranch: Uint8Array[] = [];
  await replayScenario(sc, asPackets(before), {
    onFrame: (f) => { if (f.site === 'branch' && f.wire === 'wan' && f.rec.data[23] === 50) fromBranch.push(f.rec.data.slice()); },
  });
  const first = fromBranch[0];
  if (!first) throw new Error('the branch sent no ESP: the scenario changed');
  const last = before[before.length - 1]!;
  let ms = last.tsSec * 1000 + last.tsNsec / 1e6 - OFFICE_EPOCH * 1000;
  const rec = (dt: number, data: Uint8Array): WritableRecord => {
    ms += dt;
    const whole = OFFICE_EPOCH * 1000 + ms;
    return { tsSec: Math.floor(whole / 1000), tsNsec: (whole % 1000) * 1_000_000, data, linkType: LINKTYPE_ETHERNET };
  };
  const attacks: WritableRecord[] = [];
  // 19. Someone on the ISP segment replays the branch's first ESP packet, byte for byte.
  attacks.push(rec(300, first));
  // 20. The branch's next ESP packet, one bit of its ICV flipped on the way.
  const sa = sc.branch.path.xfrmState!.sad.states.find((s) => s.spi === 0x2001)!;
  const esp = createEspSa(espSaConfigFromXfrm(sa));
  const inner = packetFromExpression('IP(src="192.168.2.10",dst="192.168.1.23",ttl=63,flags="DF")/TCP(sport=445,dport=49320,flags="A",seq=0x5d000079,ack=0x3c0005f7)', { link: 'raw' });
  const pkt = Packet.from(inner);
  const r = espOutput(esp, pkt, { ttl: 64, ipId: 0x2a02 });
  if (!r.ok) throw new Error(`ESP output failed: ${r.counter}`);
  const corrupted = new Uint8Array(14 + pkt.length);
  corrupted.set([...macBytes(OFFICE.wan0), ...macBytes(BRANCH.wan0), 0x08, 0x00]);
  corrupted.set(pkt.data, 14);
  corrupted[corrupted.length - 1]! ^= 0x01;
  attacks.push(rec(300, corrupted));
  // 21. A branch PC's address arrives in clear from the ISP, where only the tunnel may bring it.
  const clear = packetFromExpression(`${fromIsp('src="192.168.2.50",dst="192.168.1.42",ttl=60')}/ICMP(type=8,id=0x0c04,seq=1)/${raw(enc('not through the tunnel'))}`);
  attacks.push(rec(300, clear));
  return [...before, ...attacks];
}

/** The bundled file's bytes, as the generator writes them. */
export async function writeDemoCapture(path: string): Promise<number> {
  return writePcapFile(path, await demoRecords(), { linkType: LINKTYPE_ETHERNET });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const target = process.argv[2] ?? fileURLToPath(new URL('../../data/demo/office.pcap', import.meta.url));
  const n = await writeDemoCapture(target);
  console.log(`wrote ${n} packets to ${target}`);
}
