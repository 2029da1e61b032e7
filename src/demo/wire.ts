/**
 * A wire between virtual hosts during a replay: one Ethernet segment that
 * some hosts' interfaces are plugged into, as a switch joins them. A frame
 * one port transmits reaches every other port whose MAC it is addressed to,
 * and all of them for broadcast and multicast (the destination's group bit);
 * a unicast frame for a MAC no port has leaves the model (it was for a
 * station outside it, such as the ISP's router) and is only recorded.
 */
import type { Host } from '../host/types.js';
import { linkByName } from '../host/links.js';

/** One interface of one host, plugged into a wire. */
export interface WirePort {
  /** The host's name in the scenario (`office`, `branch`). */
  site: string;
  host: Host;
  dev: string;
}

export class Wire {
  readonly name: string;
  readonly ports: readonly WirePort[];

  constructor(name: string, ports: readonly WirePort[]) {
    this.name = name;
    this.ports = ports;
    for (const p of ports) if (!linkByName(p.host, p.dev)) throw new Error(`wire ${name}: ${p.site} has no interface ${p.dev}`);
  }

  /** Whether `site`'s `dev` is plugged into this wire. */
  has(site: string, dev: string): boolean {
    return this.ports.some((p) => p.site === site && p.dev === dev);
  }

  /** The ports other than the sender's that receive `frame` (an Ethernet frame). */
  receivers(from: { site: string; dev: string }, frame: Uint8Array): WirePort[] {
    if (frame.length < 14) return [];
    const group = (frame[0]! & 1) !== 0;
    const out: WirePort[] = [];
    for (const p of this.ports) {
      if (p.site === from.site && p.dev === from.dev) continue;
      if (group) { out.push(p); continue; }
      const mac = linkByName(p.host, p.dev)!.mac;
      let same = mac.length === 6;
      for (let i = 0; i < 6 && same; i++) if (mac[i] !== frame[i]) same = false;
      if (same) out.push(p);
    }
    return out;
  }
}
