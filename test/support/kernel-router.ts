/**
 * A real Linux router for differential tests: three network namespaces —
 * the router (`lan0`, `wan0`), a LAN peer (`a0`) and a WAN peer (`b0`) —
 * wired with veth pairs and addressed exactly like `routerHost()` in
 * src/host/path/testing.ts, so nfx's virtual router and the kernel's see the
 * same frames. One long-lived scapy-free Python process (Debian's
 * /usr/bin/python3, raw AF_PACKET sockets) injects a frame from a peer and
 * returns every unicast IP frame the router put on either wire, over
 * stdin/stdout JSON lines. No side effects at import: node's test runner
 * runs every file under test/.
 */
import { spawnSync } from 'node:child_process';
import { PY, PyInjector } from './py-injector.js';

export { PY };

export function sh(cmd: string[], input?: string): { status: number | null; out: string; err: string } {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', input, timeout: 60_000 });
  return { status: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}

/** Why the kernel router cannot be built here, or undefined when it can. */
export function kernelRouterUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  if (sh(['ip', '-V']).status !== 0) return 'ip (iproute2) not installed';
  if (sh(['nft', '--version']).status !== 0) return 'nft not installed';
  if (sh([PY, '-c', 'import socket, select, ctypes']).status !== 0) return `${PY} not usable`;
  return undefined;
}

/** The MACs of routerHost(): router ports and the peers behind them. */
export const ROUTER_MAC = { lan0: '02:00:00:00:01:01', wan0: '02:00:00:00:02:01', lanPeer: '02:00:00:00:01:02', wanPeer: '02:00:00:00:02:fe' };

/** Frames the router transmitted because of one injected frame, per router port, as hex. */
export interface WireCapture { lan0: string[]; wan0: string[] }

const HARNESS = String.raw`
import ctypes, json, os, select, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
def enter(ns):
    fd = os.open('/var/run/netns/' + ns, os.O_RDONLY)
    if libc.setns(fd, 0x40000000) != 0: raise OSError(ctypes.get_errno(), 'setns')
    os.close(fd)
socks = {}
for side, ns, dev in (('lan0', sys.argv[1], 'a0'), ('wan0', sys.argv[2], 'b0')):
    enter(ns)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((dev, 0))
    s.setblocking(False)
    socks[side] = s
idle_s = float(sys.argv[3])
def keep(data, addr):
    if addr[2] == socket.PACKET_OUTGOING or data[0] & 1: return False
    return data[12:14] in (b'\x08\x00', b'\x86\xdd')
print('ready', flush=True)
for line in sys.stdin:
    job = json.loads(line)
    for s in socks.values():
        while True:
            try: s.recvfrom(65535)
            except BlockingIOError: break
    socks[job['from']].send(bytes.fromhex(job['hex']))
    got = {'lan0': [], 'wan0': []}
    now = time.monotonic()
    deadline, idle = now + 0.5, now + idle_s
    while True:
        left = min(deadline, idle) - time.monotonic()
        if left <= 0: break
        r, _, _ = select.select(list(socks.values()), [], [], left)
        for side, s in socks.items():
            if s not in r: continue
            while True:
                try: data, addr = s.recvfrom(65535)
                except BlockingIOError: break
                if keep(data, addr):
                    got[side].append(data.hex())
                    idle = time.monotonic() + idle_s
    print(json.dumps(got), flush=True)
`;

/**
 * The namespaces and the injector. `open()` builds them; `close()` removes
 * them by name (call it in a finally).
 */
export class KernelRouter {
  readonly R: string;
  readonly A: string;
  readonly B: string;
  private py: PyInjector | undefined;

  constructor(tag: string) {
    this.R = `${tag}r`; this.A = `${tag}a`; this.B = `${tag}b`;
  }

  private in(ns: string, ...c: string[]): void {
    const r = sh(['ip', 'netns', 'exec', ns, ...c]);
    if (r.status !== 0) throw new Error(`${c.join(' ')} in ${ns}: ${r.err}`);
  }

  /** Builds the router; `idleMs` is how long a quiet wire ends a packet's capture. */
  async open(idleMs = 25): Promise<void> {
    const { R, A, B } = this;
    for (const ns of [R, A, B]) {
      const r = sh(['ip', 'netns', 'add', ns]);
      if (r.status !== 0) throw new Error(`ip netns add ${ns}: ${r.err}`);
      // Addresses usable at once, links quiet: no DAD, no router solicitations.
      for (const k of ['accept_dad=0', 'dad_transmits=0', 'router_solicitations=0', 'accept_ra=0']) {
        for (const scope of ['default', 'all']) sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${scope}.${k}`]);
      }
      this.in(ns, 'ip', 'link', 'set', 'lo', 'up');
    }
    this.in(R, 'ip', 'link', 'add', 'lan0', 'address', ROUTER_MAC.lan0, 'type', 'veth', 'peer', 'name', 'a0', 'address', ROUTER_MAC.lanPeer, 'netns', A);
    this.in(R, 'ip', 'link', 'add', 'wan0', 'address', ROUTER_MAC.wan0, 'type', 'veth', 'peer', 'name', 'b0', 'address', ROUTER_MAC.wanPeer, 'netns', B);
    for (const d of ['lan0', 'wan0']) this.in(R, 'ip', 'link', 'set', d, 'up');
    this.in(A, 'ip', 'link', 'set', 'a0', 'up');
    this.in(B, 'ip', 'link', 'set', 'b0', 'up');
    for (const line of [
      'addr add 10.0.1.1/24 brd + dev lan0', 'addr add 192.0.2.1/24 brd + dev wan0',
      'addr add 2001:db8:1::1/64 dev lan0 nodad', 'addr add 2001:db8:2::1/64 dev wan0 nodad',
      'route add default via 192.0.2.254 dev wan0', '-6 route add default via 2001:db8:2::fe dev wan0',
      `neigh add 10.0.1.2 lladdr ${ROUTER_MAC.lanPeer} dev lan0 nud permanent`,
      `neigh add 192.0.2.254 lladdr ${ROUTER_MAC.wanPeer} dev wan0 nud permanent`,
      `neigh add 2001:db8:1::2 lladdr ${ROUTER_MAC.lanPeer} dev lan0 nud permanent`,
      `neigh add 2001:db8:2::fe lladdr ${ROUTER_MAC.wanPeer} dev wan0 nud permanent`,
    ]) this.in(R, 'ip', ...line.split(' '));
    for (const kv of ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.icmp_ratelimit=0', 'net.ipv6.icmp.ratelimit=0',
      // The global ICMP budget (icmp_global_allow) would throttle a fast test's errors.
      'net.ipv4.icmp_msgs_per_sec=1000000', 'net.ipv4.icmp_msgs_burst=1000000']) {
      sh(['ip', 'netns', 'exec', R, 'sysctl', '-qw', kv]);
    }
    // The peers' own stacks stay silent; their sockets see frames before this hook drops them.
    this.in(A, 'nft', 'add table netdev q; add chain netdev q i { type filter hook ingress device a0 priority 0; policy drop; }');
    this.in(B, 'nft', 'add table netdev q; add chain netdev q i { type filter hook ingress device b0 priority 0; policy drop; }');

    this.py = await PyInjector.start(HARNESS, [A, B, String(idleMs / 1000)]);
  }

  /** Flushes the router's ruleset and loads `text` with the real nft; the error text on refusal. */
  load(text: string): string | undefined {
    const r = sh(['ip', 'netns', 'exec', this.R, 'nft', '-f', '-'], `flush ruleset\n${text}`);
    return r.status === 0 ? undefined : r.err || `nft exit ${r.status}`;
  }

  /** Injects an Ethernet frame from the LAN peer (to lan0) or the WAN peer (to wan0); resolves with what the router transmitted. */
  send(port: 'lan0' | 'wan0', frame: Uint8Array): Promise<WireCapture> {
    if (!this.py) throw new Error('KernelRouter not open');
    return this.py.request<WireCapture>({ from: port, hex: Buffer.from(frame).toString('hex') });
  }

  /** Stops the injector and removes the namespaces, by name. */
  close(): void {
    if (this.py) { this.py.stop(); this.py = undefined; }
    for (const ns of [this.R, this.A, this.B]) sh(['ip', 'netns', 'del', ns]);
  }
}
