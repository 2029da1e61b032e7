/**
 * IP-TFS against plain ESP tunnel mode, same SA algorithm (rfc4106(gcm(aes))
 * 128-bit key, IPv4 outer), same run: inner packets per second and
 * efficiency (inner bytes / outer IP bytes) for 64-byte inner packets and
 * simple IMIX (40:576:1500 bytes in 7:4:1), IP-TFS at pkt-size 1400.
 *  - send: IptfsSender (queue, pack) + iptfsEspOutput per outer packet,
 *    versus espOutput per inner packet;
 *  - receive: iptfsEspInput + IptfsReceiver (reorder window 3, in order),
 *    versus espInput per packet.
 * Both sides seal/open one OpenSSL call per outer packet.
 *  - path: a gateway host (configured with ip/sysctl/ip xfrm lines) forwards
 *    the inner packets from its LAN through the whole packet path (hooks,
 *    routing, xfrm lookup, ESP) in fast mode, `mode iptfs` (drained after
 *    each batch) versus `mode tunnel`.
 *
 * Alone: `node dist/bench/iptfs.js`.
 */
import { pathToFileURL } from 'node:url';
import { newHost } from '../src/host/model.js';
import { builtinHandlers, runScript } from '../src/host/script.js';
import { openPath } from '../src/host/path/state.js';
import type { HostPath } from '../src/host/path/walk.js';
import { Harness } from './harness.js';
import { Packet } from '../src/packet/packet.js';
import { createEspSa, espInput, espOutput } from '../src/xfrm/esp/index.js';
import type { EspSa } from '../src/xfrm/esp/index.js';
import {
  defaultIptfsOptions, IptfsReceiver, IptfsSender, iptfsEspInput, iptfsEspOutput, iptfsOverhead, iptfsPayloadMtu, VirtualScheduler,
} from '../src/xfrm/esp/iptfs/index.js';

const SECONDS = 0.6;
const BATCH = 256;

function inner(size: number, id: number): Uint8Array {
  const p = new Uint8Array(size);
  p.set([0x45, 0, size >> 8, size & 255, id >> 8, id & 255, 0x40, 0, 64, 17, 0, 0, 10, 1, 0, 1, 10, 2, 0, 1]);
  return p;
}

/** A batch of inner packets: all `size`, or IMIX when size is 0. */
function traffic(size: number): Uint8Array[] {
  const imix = [40, 40, 40, 40, 40, 40, 40, 576, 576, 576, 576, 1500];
  return Array.from({ length: BATCH }, (_, i) => inner(size || imix[i % imix.length]!, i));
}

function sa(): EspSa {
  const key = new Uint8Array(20).fill(7);
  return createEspSa({ spi: 0x100, saddr: '192.0.2.1', daddr: '192.0.2.2', mode: 'tunnel', aead: { name: 'rfc4106(gcm(aes))', key, icvBits: 128 } });
}

/** Repeats `step` (one batch) for SECONDS; returns inner packets done and seconds. */
function loop(step: () => void): [number, number] {
  for (let i = 0; i < 5; i++) step();
  let n = 0;
  let s = 0;
  const t0 = process.hrtime.bigint();
  do {
    step();
    n += BATCH;
    s = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (s < SECONDS);
  return [n, s];
}

/** A gateway LAN 10.1.0.0/16 → WAN peer 192.0.2.2 with one `mode` SA out; its path in fast mode. */
async function gateway(mode: 'tunnel' | 'iptfs'): Promise<HostPath> {
  const host = newHost(`bench-${mode}`);
  const opts = mode === 'iptfs' ? ' dir out iptfs-opts pkt-size 1400' : '';
  const script = `
ip link set lo up
ip link add lan0 address 02:00:00:00:01:01 type ether
ip link add wan0 address 02:00:00:00:02:01 type ether
ip link set lan0 up
ip link set wan0 up
ip addr add 10.1.0.1/16 dev lan0
ip addr add 192.0.2.1/24 dev wan0
ip route add 10.2.0.0/16 via 192.0.2.2 dev wan0
ip neigh add 192.0.2.2 lladdr 02:00:00:00:02:02 dev wan0 nud permanent
sysctl -w net.ipv4.ip_forward=1
ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x100 reqid 1 mode ${mode} aead 'rfc4106(gcm(aes))' 0x${'07'.repeat(20)} 128${opts}
ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 1 mode ${mode}
`;
  let err = '';
  const r = await runScript(host, script, { file: 'bench', handlers: builtinHandlers(), io: { out: () => {}, err: (t) => { err += t; } }, readFile: () => '' });
  if (r.status !== 0) throw new Error(err);
  return openPath(host, { detail: false });
}

/** Forwards the batch from lan0 (ESP sequence numbers never run out in a bench: 2^32 packets). */
async function pathFigures(h: Harness, label: string, batch: Uint8Array[]): Promise<void> {
  const fwd = batch.map((p) => {
    const q = p.slice();
    q.set([10, 1, 0, 5, 10, 2, 0, 9], 12);
    // IPv4 header checksum over the 20-byte header (the builder left it 0).
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += i === 10 ? 0 : (q[i]! << 8) | q[i + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    q[10] = (~sum >> 8) & 0xff; q[11] = ~sum & 0xff;
    return q;
  });
  const figs = [];
  for (const mode of ['tunnel', 'iptfs'] as const) {
    const path = await gateway(mode);
    let wire = 0;
    const [n, s] = loop(() => {
      for (const p of fwd) wire += path.receive('lan0', p, true).emitted.length;
      for (const o of path.drain()) wire += o.emitted.length;
    });
    h.note(`path ${mode} ${label}: ${wire} outer frames for ${n + 5 * BATCH} inner packets`);
    figs.push(h.record(`path ${mode} forward ${label}`, n, 'inner pkt', s));
  }
  h.ratio(figs[1]!, figs[0]!);
}

export async function bench(h: Harness): Promise<void> {
  for (const size of [64, 0]) {
    const label = size ? '64B' : 'IMIX';
    const batch = traffic(size);
    const innerBytes = batch.reduce((n, p) => n + p.length, 0);

    // Plain tunnel mode: one ESP packet per inner packet.
    const plainSa = sa();
    const plainRx = sa();
    let plainOuter = 0;
    const plainWire: Uint8Array[] = [];
    for (const p of batch) {
      const pkt = Packet.from(p);
      espOutput(plainSa, pkt);
      plainOuter += pkt.length;
      plainWire.push(pkt.data.slice());
    }
    const [pn, ps] = loop(() => {
      for (const p of batch) espOutput(plainSa, Packet.from(p));
    });
    const plainTx = h.record(`tunnel send ${label}`, pn, 'inner pkt', ps);
    let plainFailed = 0;
    const [prn, prs] = loop(() => {
      // The SA has no replay window (replay-window 0), so the same capture can be replayed.
      for (const w of plainWire) if (!espInput(plainRx, Packet.from(w)).ok) plainFailed++;
    });
    const plainRxFig = h.record(`tunnel receive ${label}`, prn, 'inner pkt', prs);

    // IP-TFS: the same inner packets aggregated into pkt-size 1400 outer packets.
    const tfsSa = sa();
    const opts = { ...defaultIptfsOptions(), pktSize: 1400 };
    const sched = new VirtualScheduler();
    let outerBytes = 0;
    let outerPkts = 0;
    let capture: Uint8Array[] | null = [];
    const tx = new IptfsSender({
      options: opts,
      scheduler: sched,
      mtu: iptfsPayloadMtu(iptfsOverhead(tfsSa), opts),
      output: (p) => {
        iptfsEspOutput(tfsSa, p);
        outerBytes += p.length;
        outerPkts++;
        if (capture) capture.push(p.data.slice());
      },
    });
    for (const p of batch) tx.enqueue(p.slice());
    tx.flush();
    const wire = capture;
    capture = null;
    const firstOuterBytes = outerBytes;
    const firstOuterPkts = outerPkts;
    const [tn, ts] = loop(() => {
      for (const p of batch) tx.enqueue(p);
      tx.flush();
    });
    const tfsTx = h.record(`iptfs send ${label}`, tn, 'inner pkt', ts);

    const rxSa = sa();
    let delivered = 0;
    const rx = new IptfsReceiver({ options: defaultIptfsOptions(), scheduler: sched, deliver: () => delivered++ });
    let seqBase = 0;
    let tfsFailed = 0;
    const [rn, rs] = loop(() => {
      // The replay window would refuse a second pass of the same capture: decrypt and
      // feed fresh sequence numbers to the receiver (reorder window on, in order).
      for (const w of wire) {
        const pkt = Packet.from(w);
        const r = iptfsEspInput(rxSa, pkt);
        if (r.ok) rx.input(r.payload, ++seqBase);
        else tfsFailed++;
      }
    });
    const tfsRx = h.record(`iptfs receive ${label}`, rn, 'inner pkt', rs);
    if (plainFailed || tfsFailed || delivered !== rn + 5 * BATCH) {
      h.note(`warning: ${plainFailed} tunnel and ${tfsFailed} IP-TFS decryptions failed; ${delivered} of ${rn + 5 * BATCH} inner packets delivered`);
    }

    h.note(`${label}: ${BATCH} inner packets (${innerBytes} B) -> tunnel ${BATCH} outer packets, ${plainOuter} B, efficiency ${(innerBytes / plainOuter).toFixed(3)}`);
    h.note(`${label}: ${BATCH} inner packets (${innerBytes} B) -> iptfs ${firstOuterPkts} outer packets, ${firstOuterBytes} B, efficiency ${(innerBytes / firstOuterBytes).toFixed(3)} (pkt-size 1400)`);
    h.ratio(tfsTx, plainTx);
    h.ratio(tfsRx, plainRxFig);
    await pathFigures(h, label, batch);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const h = new Harness('iptfs');
  console.log('== iptfs ==');
  await bench(h);
  await h.cleanup();
}
