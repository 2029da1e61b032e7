/**
 * A bridged host for specs and the kernel differential test: `br0` with three
 * ports p0, p1, p2 (stations A, B, C behind them), rulesets from nft text, and
 * frames from scapy expressions. No side effects at import.
 */
import { newHost } from '../../src/host/model.js';
import { runIp } from '../../src/host/ip/index.js';
import type { Host } from '../../src/host/types.js';
import { HostPath } from '../../src/host/path/walk.js';
import type { HostPathOptions } from '../../src/host/path/walk.js';
import { Ruleset } from '../../src/netfilter/ruleset.js';
import { VirtualClock } from '../../src/netfilter/clock.js';
import { executeNft, parseNftArgs } from '../../src/nft/command.js';
import { packetFromExpression } from '../../src/packet/scapy/index.js';

/** The bridge's ports and the stations behind them (the peers' MACs). */
export const BR_MAC = {
  p0: '02:00:00:00:10:00', p1: '02:00:00:00:11:00', p2: '02:00:00:00:12:00',
  a: '02:00:00:00:0a:01', b: '02:00:00:00:0b:01', c: '02:00:00:00:0c:01',
} as const;
export const PORTS = ['p0', 'p1', 'p2'] as const;
export type PortName = typeof PORTS[number];

/** Runs `ip` lines; returns stdout; throws with stderr on the first failure. */
export function ip(host: Host, lines: string): string {
  let out = '';
  for (const line of lines.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))) {
    let err = '';
    const st = runIp(host, line.split(/\s+/), { out: (t) => { out += t; }, err: (t) => { err += t; } });
    if (st !== 0) throw new Error(`ip ${line}: ${err}`);
  }
  return out;
}

/** Runs one `ip` line and returns its status and streams (for error specs). */
export function ipTry(host: Host, line: string): { status: number; out: string; err: string } {
  let out = '', err = '';
  const status = runIp(host, line.split(/\s+/), { out: (t) => { out += t; }, err: (t) => { err += t; } });
  return { status, out, err };
}

/**
 * br0 (with `addr` when given) over p0..p2, all up. Ports are plain ethernet
 * links here; the kernel test uses veth pairs whose far ends are the peers.
 */
export function bridgeHost(o: { addr4?: string; addr6?: string } = {}): Host {
  const h = newHost('bridge');
  ip(h, `
    link set lo up
    link add br0 type bridge
    link add p0 address ${BR_MAC.p0} type ether
    link add p1 address ${BR_MAC.p1} type ether
    link add p2 address ${BR_MAC.p2} type ether
    link set p0 master br0
    link set p1 master br0
    link set p2 master br0
    link set p0 up
    link set p1 up
    link set p2 up
    link set br0 up
  `);
  if (o.addr4) ip(h, `addr add ${o.addr4} dev br0`);
  if (o.addr6) ip(h, `addr add ${o.addr6} dev br0 nodad`);
  return h;
}

/** Compiles nft text (a whole file) into a ruleset as `nft -f` would; throws with nft's message. */
export function nftRuleset(host: Host, text: string, clock: VirtualClock, into = new Ruleset()): Ruleset {
  let err = '';
  const opts = parseNftArgs(['-f', 'ruleset.nft']);
  opts.interfaces = host.links.map((l) => l.name);
  const st = executeNft(into, text, 'ruleset.nft', opts, { out: () => {}, err: (t) => { err += t; } }, clock);
  if (st !== 0) throw new Error(`nft refused the ruleset:\n${err}`);
  return into;
}

/** A path over `host` with `nft` text loaded, on a virtual clock the caller can move. */
export function bridgePath(host: Host, nftText = '', o: Omit<HostPathOptions, 'ruleset' | 'clock'> = {}): HostPath & { clock: VirtualClock } {
  const clock = new VirtualClock(0);
  const ruleset = nftText ? nftRuleset(host, nftText, clock) : new Ruleset();
  return new HostPath(host, { ...o, ruleset, clock }) as HostPath & { clock: VirtualClock };
}

/** A whole Ethernet frame from a scapy expression (which must start with Ether()). */
export function frame(expr: string): Uint8Array { return packetFromExpression(expr, { link: 'ether' }); }

export function hex(b: Uint8Array): string { return Buffer.from(b).toString('hex'); }
