/**
 * An independent reading of what the builders write: well-formed packets of
 * every protocol, built from expressions, are dissected by tshark with every
 * checksum check it has switched on. No checksum may be bad and no expert
 * error (malformed packet, impossible length) may be raised. This also covers
 * UDP-Lite and DCCP, which scapy lacks (the differential test compares them
 * only with nfx's own scapy classes).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { packetFromExpression } from '../src/packet/scapy/index.js';

const ETHER = { link: 'ether' as const, defaultEther: { src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' } };
const A = 'src="192.0.2.1",dst="198.51.100.2"';
const A6 = 'src="2001:db8::1",dst="2001:db8::2"';

const WELL_FORMED = [
  `IP(${A},ttl=3,flags="DF")/TCP(sport=40000,dport=22,flags="S",options=[("MSS",1460),("SAckOK",b""),("Timestamp",(1,0)),("NOP",None),("WScale",7)])`,
  `IP(${A},options=[IPOption_Router_Alert()])/TCP(sport=1,dport=2,flags="PA")/Raw(load="payload")`,
  `IP(${A},options=[IPOption_LSRR(routers=["203.0.113.9"])])/UDP(sport=5000,dport=5001)/Raw(load="source routed")`,
  `IP(${A},id=7,flags="MF",frag=0)/UDP(sport=5000,dport=5001)/Raw(load="first fragment")`,
  `IP(${A})/UDP(sport=5000,dport=5001)/Raw(load="odd length!")`,
  `IP(${A})/UDPLite(sport=1000,dport=2000)/Raw(load="full coverage")`,
  `IP(${A})/UDPLite(sport=1000,dport=2000,cscov=8)/Raw(load="header only")`,
  `IPv6(${A6})/UDPLite(sport=1000,dport=2000,cscov=12)/Raw(load="partial coverage")`,
  `IP(${A})/SCTP(sport=5000,dport=5001,tag=0x1234)`,
  `IP(${A})/DCCP(sport=1000,dport=2000,type=0,dataofs=5)/Raw(load=b"\\x00\\x00\\x00\\x2a")`,
  `IPv6(${A6})/DCCP(sport=1000,dport=2000,type=0,dataofs=5,cscov=1)/Raw(load=b"\\x00\\x00\\x00\\x2a")/Raw(load="data")`,
  `IP(${A})/DCCP(sport=1000,dport=2000,type=0,dataofs=4,x=0,seq=5)/Raw(load=b"\\x00\\x00\\x00\\x2a")`,
  `IP(${A})/ICMP(type="echo-request",id=1,seq=2)/Raw(load="ping")`,
  `IP(${A})/ICMP(type="dest-unreach",code="port-unreachable")/IPerror(src="198.51.100.2",dst="192.0.2.1")/UDPerror(sport=33434,dport=53)`,
  `IP(${A})/ICMP(type="time-exceeded")/IPerror(src="198.51.100.2",dst="192.0.2.1",ttl=1)/TCPerror(sport=1,dport=2)`,
  `IP(${A})/ICMP(type="redirect",code="host-redirect",gw="192.0.2.254")/IPerror(src="198.51.100.2",dst="192.0.2.1")/ICMPerror(id=1)`,
  `IP(${A})/ICMP(type="dest-unreach",code="fragmentation-needed",nexthopmtu=1400)/IPerror(src="198.51.100.2",dst="192.0.2.1",flags="DF")/TCPerror(sport=1,dport=2)`,
  `IPv6(${A6})/TCP(sport=40000,dport=443,flags="S")`,
  `IPv6(${A6})/UDP(sport=40001,dport=40002)/Raw(load="data")`,
  `IPv6(${A6})/IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)])/UDP(sport=1,dport=2)`,
  `IPv6(${A6})/IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\\x00\\x00")])/TCP(sport=1,dport=2)`,
  `IPv6(${A6})/IPv6ExtHdrRouting(addresses=["2001:db8::99"],segleft=1)/UDP(sport=1,dport=2)`,
  `IPv6(${A6})/IPv6ExtHdrSegmentRouting(addresses=["2001:db8::77","2001:db8::2"])/UDP(sport=1,dport=2)`,
  `IPv6(${A6})/IPv6ExtHdrSegmentRouting(addresses=["2001:db8::2"],tlv_objects=[IPv6ExtHdrSegmentRoutingTLVIngressNode(ingress_node="2001:db8::1")])/UDP(sport=1,dport=2)`,
  `IP(${A},options=[IPOption_Timestamp(flg=1,internet_address="192.0.2.1",timestamp=1000)])/UDP(sport=1,dport=2)`,
  `IPv6(${A6})/IPv6ExtHdrFragment(id=5,m=1)/UDP(sport=1,dport=2)/Raw(load="12345678")`,
  `IPv6(${A6})/ICMPv6EchoRequest(id=1,seq=2,data="ping")`,
  `IPv6(${A6})/ICMPv6EchoReply(id=1,seq=2,data="pong")`,
  `IPv6(${A6})/ICMPv6DestUnreach(code=4)/IPerror6(src="2001:db8::2",dst="2001:db8::1")/UDPerror(sport=1,dport=2)`,
  `IPv6(${A6})/ICMPv6PacketTooBig(mtu=1280)/IPerror6(src="2001:db8::2",dst="2001:db8::1")/TCPerror(sport=1,dport=2)`,
  `IPv6(${A6})/ICMPv6TimeExceeded()/IPerror6(src="2001:db8::2",dst="2001:db8::1",hlim=1)/UDPerror(sport=1,dport=2)`,
  `IPv6(${A6})/ICMPv6ParamProblem(code=1,ptr=40)/IPerror6(src="2001:db8::2",dst="2001:db8::1")`,
  'IPv6(src="fe80::1",dst="ff02::2")/ICMPv6ND_RS()/ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01")',
  'IPv6(src="fe80::1",dst="ff02::1")/ICMPv6ND_RA(chlim=64,M=1)/ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01")/ICMPv6NDOptMTU(mtu=1500)/ICMPv6NDOptPrefixInfo(prefix="2001:db8::")',
  'IPv6(src="fe80::1",dst="ff02::1:ff00:2")/ICMPv6ND_NS(tgt="fe80::2")/ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01")',
  'IPv6(src="fe80::2",dst="fe80::1")/ICMPv6ND_NA(tgt="fe80::2",R=0,S=1)/ICMPv6NDOptDstLLAddr(lladdr="02:00:00:00:00:02")',
  'IPv6(src="fe80::1",dst="fe80::2")/ICMPv6ND_Redirect(tgt="fe80::3",dst="2001:db8::5")',
  'IPv6(src="fe80::1",dst="fe80::2")/ICMPv6ND_Redirect(tgt="fe80::3",dst="2001:db8::5")/ICMPv6NDOptRedirectedHdr(pkt=IPv6(src="2001:db8::1",dst="2001:db8::5")/UDP(sport=1,dport=2)/Raw(load="12345678"))',
  'IPv6(src="fe80::1",dst="ff02::1")/IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)])/ICMPv6MLQuery()',
  'IPv6(src="fe80::1",dst="ff02::fb")/IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)])/ICMPv6MLReport(mladdr="ff02::fb")',
  'IPv6(src="fe80::1",dst="ff02::16")/IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)])/ICMPv6MLReport2(records=[ICMPv6MLDMultAddrRec(dst="ff02::fb",sources=["fe80::9"])])',
  'IP(src="192.0.2.1",dst="224.0.0.1")/IGMP(type=0x11,mrcode=100)',
  'IP(src="192.0.2.1",dst="224.0.0.2")/IGMP(type=0x17,gaddr="239.1.2.3")',
  'IP(src="192.0.2.1",dst="224.0.0.1",options=[IPOption_Router_Alert()])/IGMPv3(mrcode=100)/IGMPv3mq(gaddr="239.1.1.1",srcaddrs=["192.0.2.9"])',
  'IP(src="192.0.2.1",dst="224.0.0.22",options=[IPOption_Router_Alert()])/IGMPv3()/IGMPv3mr(records=[IGMPv3gr(rtype=4,maddr="239.1.1.1")])',
  `IP(${A})/ESP(spi=0x100,seq=1,data=b"\\x00\\x01")`,
  `IP(${A})/UDP(dport=4500)/ESP(spi=0x100,seq=1,data=b"0123456789abcdef")`,
  `IP(${A})/UDP()/NON_ESP()/Raw(load=b"\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x21\\x20\\x22\\x08\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x1c")`,
  `IP(${A})/UDP()/NAT_KEEPALIVE()`,
  // scapy leaves TCP/UDP checksums under AH at 0 (it looks only at the layer directly below), so ICMP here.
  `IP(${A})/AH(nh=1,payloadlen=4,spi=0x200,seq=3,icv=b"0123456789ab")/ICMP()`,
  `IP(${A})/GRE(chksum_present=1,key_present=1,key=9,seqnum_present=1,sequence_number=1)/IP(src="10.0.0.1",dst="10.0.0.2")/ICMP()`,
  `IP(${A})/GRE()/IPv6(${A6})/UDP(sport=1,dport=2)`,
  `IP(${A})/GRE()/Ether(src="02:00:00:00:00:03",dst="02:00:00:00:00:04")/ARP(hwsrc="02:00:00:00:00:03",psrc="10.0.0.3",pdst="10.0.0.4")`,
  'Ether(src="02:00:00:00:00:01",dst="ff:ff:ff:ff:ff:ff")/ARP(op="who-has",hwsrc="02:00:00:00:00:01",psrc="192.0.2.1",pdst="192.0.2.2")',
  `Ether(src="02:00:00:00:00:01",dst="02:00:00:00:00:02")/Dot1Q(vlan=100,prio=5)/IP(${A})/UDP(sport=1,dport=2)`,
  `Ether(src="02:00:00:00:00:01",dst="02:00:00:00:00:02")/Dot1AD(vlan=10)/Dot1Q(vlan=20)/IPv6(${A6})/TCP(sport=1,dport=2)`,
  `IPv6(${A6})/IP(src="10.0.0.1",dst="10.0.0.2")/UDP(sport=1,dport=2)`,
];

/** Every checksum-status field tshark 4.0 has for these protocols (1 good, 0 bad, 2 unverified). */
const STATUS = ['ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status', 'sctp.checksum.status', 'dccp.checksum.status',
  'icmp.checksum.status', 'icmpv6.checksum.status', 'igmp.checksum.status', 'gre.checksum.status'];

function pcap(frames: Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  const g = Buffer.alloc(24);
  g.writeUInt32LE(0xa1b2c3d4, 0);
  g.writeUInt16LE(2, 4);
  g.writeUInt16LE(4, 6);
  g.writeUInt32LE(65535, 16);
  g.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  parts.push(g);
  frames.forEach((f, i) => {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(i, 0);
    h.writeUInt32LE(f.length, 8);
    h.writeUInt32LE(f.length, 12);
    parts.push(h, Buffer.from(f));
  });
  return Buffer.concat(parts);
}

test(`tshark reads ${WELL_FORMED.length} built packets with good checksums and no expert errors`, (t) => {
  if (spawnSync('tshark', ['-v'], { encoding: 'utf8' }).status !== 0) {
    t.skip('tshark not installed');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'nfx-build-tshark-'));
  try {
    const file = join(dir, 'built.pcap');
    writeFileSync(file, pcap(WELL_FORMED.map((e) => packetFromExpression(e, ETHER))));
    const prefs = ['ip.check_checksum:TRUE', 'tcp.check_checksum:TRUE', 'udp.check_checksum:TRUE', 'udplite.check_checksum:TRUE',
      'dccp.check_checksum:TRUE', 'sctp.checksum:CRC-32C'].flatMap((p) => ['-o', p]);
    const fields = ['frame.number', '_ws.expert.severity', '_ws.expert.message', ...STATUS].flatMap((f) => ['-e', f]);
    const r = spawnSync('tshark', ['-r', file, ...prefs, '-T', 'fields', '-E', 'separator=|', ...fields], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout.trim().split('\n');
    assert.equal(rows.length, WELL_FORMED.length);
    const problems: string[] = [];
    for (const row of rows) {
      const [n, severity, message, ...status] = row.split('|');
      const expr = WELL_FORMED[Number(n) - 1];
      // PI_ERROR is 0x00800000 (epan/proto.h): malformed packets and bad checksums.
      if (severity!.split(',').includes(String(0x00800000))) problems.push(`#${n} ${expr}: ${message}`);
      STATUS.forEach((f, i) => {
        if (status[i]!.split(',').includes('0')) problems.push(`#${n} ${expr}: ${f} bad`);
      });
    }
    assert.deepEqual(problems, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
