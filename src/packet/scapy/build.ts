/**
 * Turns an evaluated expression into bytes the way scapy's build does:
 * each layer is written over its already-built payload (so lengths and
 * checksums see everything above them), then Padding layers' bytes are
 * appended at the very end, outside every length and checksum.
 */
import { concat } from '../build/fields.js';
import { DEFAULT_ETHER_DST, DEFAULT_ETHER_SRC } from './addresses.js';
import { Ether } from './layers-link.js';
import type { LayerInst } from './model.js';
import { BINDINGS } from './bindings.js';

export interface BuildOptions {
  /**
   * 'ether': the packet goes out on an Ethernet link, so an expression that
   * starts at layer 3 (IP, IPv6, ARP) gets an Ether() in front (CLI.md
   * "Packets in"). 'raw' (default): build exactly what was written.
   */
  link?: 'ether' | 'raw';
  /** Addresses for the added Ether(); default ff:ff:ff:ff:ff:ff ← 00:00:00:00:00:00. */
  defaultEther?: { src: string; dst: string };
}

const EMPTY = new Uint8Array(0);

export function buildLayers(layers: readonly LayerInst[], opts: BuildOptions = {}): Uint8Array {
  let chain = layers;
  const first = layers[0];
  if (opts.link === 'ether' && first?.def.l3) {
    const eth: LayerInst = {
      def: Ether, loc: { start: 0, end: 0 },
      set: new Map([['dst', opts.defaultEther?.dst ?? DEFAULT_ETHER_DST], ['src', opts.defaultEther?.src ?? DEFAULT_ETHER_SRC]]),
      over: BINDINGS[first.def.name]?.['Ether'] ?? {}, under: null, upper: null,
    };
    // The added layer sits below the first one without touching the caller's objects' other links.
    const copy = layers.map((l) => ({ ...l }));
    for (let i = 0; i < copy.length; i++) {
      copy[i]!.under = i === 0 ? eth : copy[i - 1]!;
      copy[i]!.upper = copy[i + 1] ?? null;
    }
    eth.upper = copy[0]!;
    chain = [eth, ...copy];
  }
  const out = buildFrom(chain, 0);
  const pads = chain.filter((l) => l.def.padding).map((l) => l.set.get('load') as Uint8Array | undefined ?? EMPTY);
  return pads.length ? concat([out, ...pads]) : out;
}

function buildFrom(chain: readonly LayerInst[], i: number): Uint8Array {
  if (i >= chain.length) return EMPTY;
  // Bounded by the chain length: one frame per layer.
  const payload = buildFrom(chain, i + 1);
  return chain[i]!.def.emit(chain[i]!, payload);
}
