/**
 * `reject` in a netdev ingress chain against the real kernel
 * (nft_reject_netdev): a host namespace whose lan0 has the chain, a peer
 * namespace on the other end of the veth sending frames through a raw
 * AF_PACKET socket and collecting what comes back within half a second. The
 * same frames go through nfx's routerHost() (same MACs); the replies must be
 * byte-identical. The host has no address and no route: nothing here may
 * touch IP routing. Namespaces carry this process's pid and are removed in
 * a finally.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kernelRouterUnavailable, PY, ROUTER_MAC, sh } from './support/kernel-router.js';
import { bridgePath, frame, hex } from './support/bridge-host.js';
import { routerHost } from '../src/host/path/testing.js';

const RULESET = `table netdev t {
  chain c {
    type filter hook ingress device "lan0" priority 0; policy accept;
    tcp dport 23 reject with tcp reset
    udp dport 53 reject with icmpx admin-prohibited
    ip6 nexthdr udp reject
  }
}
`;

const FRAMES = [
  `Ether(src="${ROUTER_MAC.lanPeer}",dst="${ROUTER_MAC.lan0}")/IP(src="10.0.9.2",dst="10.0.1.1")/TCP(sport=40000,dport=23,seq=1000,flags="S")`,
  `Ether(src="${ROUTER_MAC.lanPeer}",dst="${ROUTER_MAC.lan0}")/IP(src="10.0.9.2",dst="10.0.1.1")/TCP(sport=40001,dport=23,seq=9,ack=77,flags="PA")/Raw(load="hello")`,
  `Ether(src="${ROUTER_MAC.lanPeer}",dst="${ROUTER_MAC.lan0}")/IP(src="10.0.9.2",dst="10.0.1.1")/UDP(sport=5353,dport=53)/Raw(load="query")`,
  `Ether(src="${ROUTER_MAC.lanPeer}",dst="${ROUTER_MAC.lan0}")/IPv6(src="2001:db8:9::2",dst="2001:db8:1::1")/UDP(sport=5353,dport=9)/Raw(load="x")`,
  // A TCP reset is never answered.
  `Ether(src="${ROUTER_MAC.lanPeer}",dst="${ROUTER_MAC.lan0}")/IP(src="10.0.9.2",dst="10.0.1.1")/TCP(sport=40002,dport=23,seq=5,flags="R")`,  // Tagged frames (a VID nobody has, and a priority tag): answered untagged (dev_hard_header only).
  `Ether(src="${ROUTER_MAC.lanPeer}",dst="${ROUTER_MAC.lan0}")/Dot1Q(vlan=10,prio=3)/IP(src="10.0.9.2",dst="10.0.1.1")/UDP(sport=5353,dport=53)/Raw(load="query")`,
  `Ether(src="${ROUTER_MAC.lanPeer}",dst="${ROUTER_MAC.lan0}")/Dot1Q(vlan=0)/IP(src="10.0.9.2",dst="10.0.1.1")/UDP(sport=5353,dport=53)/Raw(load="query")`,
];

/**
 * Sends each frame from the peer's a0 and prints, per frame, the hex frames a0 received (JSON
 * lines). The peer's own receive path takes a VLAN tag off into metadata (skb_vlan_untag), so
 * the tag is read from PACKET_AUXDATA and put back where it was on the wire.
 */
const PEER = String.raw`
import json, select, socket, struct, sys, time
SOL_PACKET, PACKET_AUXDATA, TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 263, 8, 0x10, 0x40
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(('a0', 0))
s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
s.setblocking(False)
def recv():
    data, anc, _, addr = s.recvmsg(65535, socket.CMSG_LEN(64))
    for level, kind, cd in anc:
        if level == SOL_PACKET and kind == PACKET_AUXDATA:
            status, _, _, _, _, tci, tpid = struct.unpack('IIIHHHH', cd[:20])
            if status & TP_STATUS_VLAN_VALID:
                data = data[:12] + struct.pack('!HH', tpid if status & TP_STATUS_VLAN_TPID_VALID else 0x8100, tci) + data[12:]
    return data, addr
for line in sys.stdin:
    while True:
        try: s.recvfrom(65535)
        except BlockingIOError: break
    s.send(bytes.fromhex(line.strip()))
    got, end = [], time.monotonic() + 0.5
    while (left := end - time.monotonic()) > 0:
        r, _, _ = select.select([s], [], [], left)
        if not r: break
        data, addr = recv()
        if addr[2] != socket.PACKET_OUTGOING: got.append(data.hex())
    print(json.dumps(got), flush=True)
`;

test('netdev reject: the kernel and nfx answer the same frames with the same bytes', (t) => {
  const why = kernelRouterUnavailable();
  if (why) { t.skip(why); return; }
  const host = `nfxndr${process.pid}`, peer = `nfxndp${process.pid}`;
  try {
    const run = (cmd: string[], input?: string): string => {
      const r = sh(cmd, input);
      assert.equal(r.status, 0, `${cmd.join(' ')}: ${r.err}`);
      return r.out;
    };
    run(['ip', 'netns', 'add', host]);
    run(['ip', 'netns', 'add', peer]);
    for (const ns of [host, peer]) run(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    run(['ip', '-n', host, 'link', 'add', 'lan0', 'address', ROUTER_MAC.lan0, 'type', 'veth', 'peer', 'name', 'a0', 'netns', peer, 'address', ROUTER_MAC.lanPeer]);
    run(['ip', '-n', host, 'link', 'set', 'lan0', 'up']);
    run(['ip', '-n', peer, 'link', 'set', 'a0', 'up']);
    const load = sh(['ip', 'netns', 'exec', host, 'nft', '-f', '-'], RULESET);
    if (load.status !== 0 && /No such file|Operation not supported/.test(load.err)) { t.skip(`this kernel has no nft_reject_netdev: ${load.err.trim()}`); return; }
    assert.equal(load.status, 0, load.err);
    const out = run(['ip', 'netns', 'exec', peer, PY, '-c', PEER], FRAMES.map((f) => hex(frame(f))).join('\n') + '\n');
    const kernel = out.trim().split('\n').map((l) => JSON.parse(l) as string[]);
    assert.equal(kernel.length, FRAMES.length);

    const path = bridgePath(routerHost(), RULESET);
    let agree = 0;
    FRAMES.forEach((f, i) => {
      const o = path.receive('lan0', frame(f));
      const ours = o.emitted.filter((e) => e.dev === 'lan0').map((e) => e.frame);
      assert.equal(ours.length, kernel[i]!.length, `frame ${i}: ${f}: replies`);
      ours.forEach((b, k) => {
        const theirs = Uint8Array.from(Buffer.from(kernel[i]![k]!, 'hex'));
        const at = tcpChecksumAt(b);
        if (at !== undefined) {
          // nf_reject_ip_tcphdr_put() leaves the reset CHECKSUM_PARTIAL (only the pseudo
          // header summed); veth hands it to the peer unfinished. nfx writes the full sum.
          assert.equal(segmentSum(b), 0xffff, `frame ${i}: nfx's TCP checksum verifies`);
          assert.equal(be16(theirs, at), pseudoSum(theirs), `frame ${i}: the kernel's is the partial (pseudo-header) sum`);
          theirs[at] = b[at]!; theirs[at + 1] = b[at + 1]!;
        }
        assert.equal(hex(b), hex(theirs), `frame ${i}: ${f}`);
      });
      agree++;
    });
    t.diagnostic(`netdev reject: ${agree}/${FRAMES.length} frames answered identically (${kernel.filter((k) => k.length).length} with a reply)`);
    assert.ok(kernel.filter((k) => k.length > 0).length >= 4, 'the kernel replied to the frames it should');
  } finally {
    sh(['ip', 'netns', 'del', host]);
    sh(['ip', 'netns', 'del', peer]);
  }
});

function be16(b: Uint8Array, o: number): number { return (b[o]! << 8) | b[o + 1]!; }

/** The TCP checksum's offset in an Ethernet frame carrying IPv4 or IPv6 TCP, else undefined. */
function tcpChecksumAt(f: Uint8Array): number | undefined {
  const et = be16(f, 12);
  if (et === 0x0800 && f[14 + 9] === 6) return 14 + (f[14]! & 15) * 4 + 16;
  if (et === 0x86dd && f[14 + 6] === 6) return 14 + 40 + 16;
  return undefined;
}

/** The folded one's-complement sum of the TCP pseudo header (RFC 793 / RFC 8200 §8.1). */
function pseudoSum(f: Uint8Array): number {
  const v6 = be16(f, 12) === 0x86dd;
  const ip = 14, l4 = v6 ? ip + 40 : ip + (f[ip]! & 15) * 4;
  const len = f.length - l4 - (v6 ? 0 : f.length - ip - be16(f, ip + 2));
  let sum = 6 + len;
  const [from, to] = v6 ? [ip + 8, ip + 40] : [ip + 12, ip + 20];
  for (let o = from; o < to; o += 2) sum += be16(f, o);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The pseudo header plus the whole segment, folded: 0xffff when the checksum is right. */
function segmentSum(f: Uint8Array): number {
  const v6 = be16(f, 12) === 0x86dd;
  const l4 = v6 ? 14 + 40 : 14 + (f[14]! & 15) * 4;
  const end = v6 ? f.length : 14 + be16(f, 16);
  let sum = pseudoSum(f);
  for (let o = l4; o < end; o += 2) sum += o + 1 < end ? be16(f, o) : f[o]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}
