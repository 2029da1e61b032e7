/**
 * A real Linux bridge for the VLAN and static-FDB differential test: a
 * namespace with `br0` over three veth ports p0, p1, p2 whose far ends a0,
 * b0, c0 sit in three peer namespaces, addressed and MAC'd like
 * test/support/bridge-host.ts's `bridgeHost()`. One long-lived Python
 * process (Debian's /usr/bin/python3 with scapy) builds each frame from a
 * scapy expression, sends it from one peer, and returns the bytes it sent
 * and every frame each peer then received — with the 802.1Q tag the kernel
 * kept aside (skb->vlan_tci) put back from PACKET_AUXDATA, as it was on the
 * wire. No side effects at import.
 */
import { sh } from './kernel-router.js';
import { PY, PyInjector } from './py-injector.js';
import { buildBridgeNamespaces } from './bridge-kernel.js';

/** What each peer (a0 behind p0, b0 behind p1, c0 behind p2) received, as hex frames. */
export type PeerCapture = [string[], string[], string[]];

const HARNESS = String.raw`
import ctypes, json, os, select, socket, struct, sys, time
from scapy.all import Ether, Dot1Q, Dot1AD, IP, UDP, TCP, ICMP, ARP, Raw
libc = ctypes.CDLL(None, use_errno=True)
SOL_PACKET, PACKET_AUXDATA = 263, 8
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 1 << 4, 1 << 6
def enter(ns):
    fd = os.open('/var/run/netns/' + ns, os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0: raise OSError(ctypes.get_errno(), 'setns')
    os.close(fd)
socks = []
for spec in sys.argv[2:]:
    ns, dev = spec.split(':')
    enter(ns)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((dev, 0))
    s.setblocking(False)
    socks.append(s)
idle_s = float(sys.argv[1])
def recv(s):
    data, anc, _, addr = s.recvmsg(65535, socket.CMSG_SPACE(64))
    if addr[2] == socket.PACKET_OUTGOING: return None
    for level, kind, cd in anc:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(cd) >= 20:
            status, _, _, _, _, tci, tpid = struct.unpack('IIIHHHH', cd[:20])
            if status & TP_STATUS_VLAN_VALID:
                if not status & TP_STATUS_VLAN_TPID_VALID: tpid = 0x8100
                data = data[:12] + struct.pack('!HH', tpid, tci) + data[12:]
    return data
print('ready', flush=True)
for line in sys.stdin:
    job = json.loads(line)
    for s in socks:
        while True:
            try: s.recvmsg(65535)
            except BlockingIOError: break
    frame = bytes(eval(job['expr']))
    socks[job['from']].send(frame)
    got = [[] for _ in socks]
    now = time.monotonic()
    deadline, idle = now + 0.5, now + idle_s
    while True:
        left = min(deadline, idle) - time.monotonic()
        if left <= 0: break
        r, _, _ = select.select(socks, [], [], left)
        for i, s in enumerate(socks):
            if s not in r: continue
            while True:
                try: data = recv(s)
                except BlockingIOError: break
                if data is None: continue
                got[i].append(data.hex())
                idle = time.monotonic() + idle_s
    print(json.dumps({'sent': frame.hex(), 'got': got}), flush=True)
`;

/** Why this machine cannot run the test, or undefined. */
export function vlanKernelUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  if (sh(['ip', '-V']).status !== 0) return 'ip (iproute2) not installed';
  if (sh(['bridge', '-V']).status !== 0) return 'bridge (iproute2) not installed';
  if (sh([PY, '-c', 'import scapy.all']).status !== 0) return `scapy not importable by ${PY}`;
  return undefined;
}

/** Whether this kernel has CONFIG_BRIDGE_VLAN_FILTERING: a throwaway namespace tries `vlan_filtering 1` (EOPNOTSUPP without it). */
export function kernelHasVlanFiltering(tag: string): boolean {
  const ns = `${tag}probe`;
  if (sh(['ip', 'netns', 'add', ns]).status !== 0) return false;
  try {
    return sh(['ip', '-n', ns, 'link', 'add', 'br0', 'type', 'bridge', 'vlan_filtering', '1']).status === 0;
  } finally {
    sh(['ip', 'netns', 'del', ns]);
  }
}

/** The bridge namespace `S` and the peers; `open()` builds, `close()` removes them by name (call it in a finally). */
export class KernelVlanBridge {
  readonly S: string;
  readonly peers: [string, string, string];
  /** Whether this kernel has CONFIG_BRIDGE_VLAN_FILTERING (found by `open`). */
  vlanFiltering = false;
  private py: PyInjector | undefined;

  constructor(tag: string) {
    this.S = `${tag}s`;
    this.peers = [`${tag}a`, `${tag}b`, `${tag}c`];
  }

  /** The sysctls both sides run with: no IPv6 (no node talks on its own), unthrottled ICMP. */
  static readonly SYSCTLS = [
    'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv4.ip_forward=0',
    'net.ipv4.icmp_ratelimit=0', 'net.ipv4.icmp_msgs_per_sec=1000000', 'net.ipv4.icmp_msgs_burst=1000000',
  ];

  async open(idleMs = 25): Promise<void> {
    this.vlanFiltering = kernelHasVlanFiltering(this.S);
    const peerDev = await buildBridgeNamespaces(this.S, this.peers, KernelVlanBridge.SYSCTLS, 'arp');
    this.py = await PyInjector.start(HARNESS, [String(idleMs / 1000), ...this.peers.map((ns, i) => `${ns}:${peerDev[i]}`)]);
  }

  /** Runs a `bridge` or `ip` command line in the bridge namespace: exit status and streams. */
  run(tool: 'bridge' | 'ip', line: string): { status: number; out: string; err: string } {
    const r = sh(['ip', 'netns', 'exec', this.S, tool, ...line.split(/\s+/)]);
    return { status: r.status ?? -1, out: r.out, err: r.err };
  }

  /** Sends the frame scapy builds from `expr` from peer `from` (0 = a0, 1 = b0, 2 = c0). */
  send(from: number, expr: string): Promise<{ sent: string; got: PeerCapture }> {
    if (!this.py) throw new Error('KernelVlanBridge not open');
    return this.py.request({ from, expr });
  }

  close(): void {
    if (this.py) { this.py.stop(); this.py = undefined; }
    for (const ns of [this.S, ...this.peers]) sh(['ip', 'netns', 'del', ns]);
  }
}
