/**
 * A real Linux bridge for differential tests: a namespace with `br0` over
 * three veth ports p0, p1, p2 whose far ends a0, b0, c0 sit in three peer
 * namespaces, addressed and MAC'd like test/support/bridge-host.ts's
 * `bridgeHost()`. One long-lived Python process (Debian's /usr/bin/python3,
 * raw AF_PACKET sockets, no scapy) sends a frame from one peer and returns
 * every frame each peer then received. IPv6 is off everywhere so no node
 * talks on its own (no DAD, MLD, router solicitations), and the peers' own
 * stacks drop everything at ingress. No side effects at import.
 */
import { BR_MAC } from './bridge-host.js';
import { sh } from './kernel-router.js';
import { PyInjector } from './py-injector.js';

export { kernelRouterUnavailable as kernelBridgeUnavailable } from './kernel-router.js';

/** What each peer (a0 behind p0, b0 behind p1, c0 behind p2) received, as hex frames. */
export type PeerCapture = [string[], string[], string[]];

const HARNESS = String.raw`
import ctypes, json, os, select, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
def enter(ns):
    fd = os.open('/var/run/netns/' + ns, os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0: raise OSError(ctypes.get_errno(), 'setns')
    os.close(fd)
socks = []
for spec in sys.argv[2:]:
    ns, dev = spec.split(':')
    enter(ns)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((dev, 0))
    s.setblocking(False)
    socks.append(s)
idle_s = float(sys.argv[1])
print('ready', flush=True)
for line in sys.stdin:
    job = json.loads(line)
    for s in socks:
        while True:
            try: s.recvfrom(65535)
            except BlockingIOError: break
    socks[job['from']].send(bytes.fromhex(job['hex']))
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
                try: data, addr = s.recvfrom(65535)
                except BlockingIOError: break
                if addr[2] == socket.PACKET_OUTGOING: continue
                got[i].append(data.hex())
                idle = time.monotonic() + idle_s
    print(json.dumps(got), flush=True)
`;

/** The bridge namespace `S` and the peers; `open()` builds, `close()` removes them by name (call it in a finally). */
export class KernelBridge {
  readonly S: string;
  readonly peers: [string, string, string];
  private py: PyInjector | undefined;

  constructor(tag: string) {
    this.S = `${tag}s`;
    this.peers = [`${tag}a`, `${tag}b`, `${tag}c`];
  }

  private in(ns: string, ...c: string[]): void {
    const r = sh(['ip', 'netns', 'exec', ns, ...c]);
    if (r.status !== 0) throw new Error(`${c.join(' ')} in ${ns}: ${r.err}`);
  }

  /** The sysctls both sides run with: quiet IPv6-less links, unthrottled ICMP, no ARP replies from the bridge. */
  static readonly SYSCTLS = [
    'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1',
    // A new namespace copies the initial one's IPv4 settings (devconf_inherit_init_net 0): say them.
    'net.ipv4.ip_forward=0',
    'net.ipv4.icmp_ratelimit=0', 'net.ipv4.icmp_msgs_per_sec=1000000', 'net.ipv4.icmp_msgs_burst=1000000',
  ];

  async open(idleMs = 25): Promise<void> {
    const peerDev = await buildBridgeNamespaces(this.S, this.peers, KernelBridge.SYSCTLS, 'nft');
    this.py = await PyInjector.start(HARNESS, [String(idleMs / 1000), ...this.peers.map((ns, i) => `${ns}:${peerDev[i]}`)]);
  }

  /** Replaces the bridge namespace's ruleset with `text` (real nft); the error text on refusal. */
  load(text: string): string | undefined {
    const r = sh(['ip', 'netns', 'exec', this.S, 'nft', '-f', '-'], `flush ruleset\n${text}`);
    return r.status === 0 ? undefined : r.err || `nft exit ${r.status}`;
  }

  /** Runs `ip ARGS...` in the bridge namespace (the same line nfx's `ip` takes); throws on failure. */
  ip(line: string): void { this.in(this.S, 'ip', ...line.split(/\s+/)); }

  /** `ip ARGS...` output in the bridge namespace. */
  ipShow(line: string): string {
    const r = sh(['ip', 'netns', 'exec', this.S, 'ip', ...line.split(/\s+/)]);
    if (r.status !== 0) throw new Error(r.err);
    return r.out;
  }

  /** `nft -j list ruleset` of the bridge namespace. */
  listJson(): unknown {
    const r = sh(['ip', 'netns', 'exec', this.S, 'nft', '-j', 'list', 'ruleset']);
    if (r.status !== 0) throw new Error(r.err);
    return JSON.parse(r.out) as unknown;
  }

  /** Sends a frame from peer `from` (0 = a0, 1 = b0, 2 = c0); resolves with what every peer received. */
  send(from: number, frame: Uint8Array): Promise<PeerCapture> {
    if (!this.py) throw new Error('KernelBridge not open');
    return this.py.request<PeerCapture>({ from, hex: Buffer.from(frame).toString('hex') });
  }

  close(): void {
    if (this.py) { this.py.stop(); this.py = undefined; }
    for (const ns of [this.S, ...this.peers]) sh(['ip', 'netns', 'del', ns]);
  }
}

/** The bridge's permanent neighbours (both sides): the stations' addresses. */
export const BRIDGE_NEIGHS: Array<[string, string]> = [
  ['10.0.0.2', BR_MAC.a], ['10.0.0.3', BR_MAC.b], ['10.0.0.4', BR_MAC.c], ['10.0.0.5', '02:00:00:00:0d:01'],
];

/**
 * The namespaces both bridge harnesses use: `S` with `br0` (10.0.0.1/24, permanent neighbours for
 * the stations, no ARP answers) over p0..p2, and the peers with a0, b0, c0 at the far ends. The
 * peers' own stacks stay silent: `nft` drops everything at their ingress, `arp` only stops their
 * ARP answers (their sockets see frames before either). Returns the peers' device names.
 */
export async function buildBridgeNamespaces(S: string, peers: readonly string[], sysctls: readonly string[], silence: 'nft' | 'arp'): Promise<string[]> {
  const run = (ns: string, ...c: string[]): void => {
    const r = sh(['ip', 'netns', 'exec', ns, ...c]);
    if (r.status !== 0) throw new Error(`${c.join(' ')} in ${ns}: ${r.err}`);
  };
  for (const ns of [S, ...peers]) {
    const r = sh(['ip', 'netns', 'add', ns]);
    if (r.status !== 0) throw new Error(`ip netns add ${ns}: ${r.err}`);
    for (const kv of sysctls) sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', kv]);
  }
  run(S, 'ip', 'link', 'add', 'br0', 'type', 'bridge');
  const peerDev = ['a0', 'b0', 'c0'];
  const peerMac = [BR_MAC.a, BR_MAC.b, BR_MAC.c];
  const portMac = [BR_MAC.p0, BR_MAC.p1, BR_MAC.p2];
  for (let i = 0; i < 3; i++) {
    run(S, 'ip', 'link', 'add', `p${i}`, 'address', portMac[i]!, 'type', 'veth', 'peer', 'name', peerDev[i]!, 'address', peerMac[i]!, 'netns', peers[i]!);
    run(S, 'ip', 'link', 'set', `p${i}`, 'master', 'br0');
  }
  for (let i = 0; i < 3; i++) {
    run(S, 'ip', 'link', 'set', `p${i}`, 'up');
    run(peers[i]!, 'ip', 'link', 'set', peerDev[i]!, 'up');
    if (silence === 'nft') run(peers[i]!, 'nft', `add table netdev q; add chain netdev q i { type filter hook ingress device ${peerDev[i]} priority 0; policy drop; }`);
    else run(peers[i]!, 'sysctl', '-qw', `net.ipv4.conf.${peerDev[i]}.arp_ignore=8`);
  }
  run(S, 'ip', 'link', 'set', 'br0', 'up');
  run(S, 'ip', 'addr', 'add', '10.0.0.1/24', 'brd', '+', 'dev', 'br0');
  // nfx's neighbour layer answers no ARP; neither does the bridge here (arp_ignore 8: never).
  run(S, 'sysctl', '-qw', 'net.ipv4.conf.br0.arp_ignore=8');
  for (const [addr, mac] of BRIDGE_NEIGHS) run(S, 'ip', 'neigh', 'add', addr, 'lladdr', mac, 'dev', 'br0', 'nud', 'permanent');
  // With its first address the bridge sends its unsolicited IGMP reports (three 40-byte
  // packets within ~2 s, through bridge OUTPUT): let them pass before the first case.
  await new Promise((res) => setTimeout(res, 2500));
  return peerDev;
}
