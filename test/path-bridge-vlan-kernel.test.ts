/**
 * Differential check of static FDB entries and VLAN filtering against the
 * Linux kernel: a bridge of network namespaces (three veth ports, a station
 * behind each) and nfx's bridge take the same `bridge fdb add|append|
 * replace|del` and `bridge vlan add|del` lines, and the same frames — built
 * by real scapy from one expression, tagged or not — from the stations (and
 * now and then a `bridge fdb flush`). Exit
 * status, error text, `bridge fdb show` / `bridge vlan show`, and what every
 * station receives (tags as they were on the wire) must agree.
 *
 * A kernel built without CONFIG_BRIDGE_VLAN_FILTERING (it refuses
 * `vlan_filtering 1`) has no VLAN groups at all: there the static-FDB part
 * runs without VLANs (nfx's bridge with `vlan_default_pvid 0`, so its groups
 * are empty too) and the VLAN part is skipped, saying so; nfx models a kernel with VLAN filtering
 * built in, as distributions build it. Needs root, `ip`, `bridge` and
 * Debian's python3 with scapy; creates and removes its own namespaces.
 * NFX_KERNEL_SEED picks another seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Host } from '../src/host/types.js';
import { sysctlSet } from '../src/host/sysctl.js';
import { runBridge } from '../src/host/bridge-cmd.js';
import { runIp } from '../src/host/ip/index.js';
import { BR_MAC, bridgeHost, bridgePath, frame, ip } from './support/bridge-host.js';
import { BRIDGE_NEIGHS } from './support/bridge-kernel.js';
import { KernelVlanBridge, kernelHasVlanFiltering, vlanKernelUnavailable } from './support/bridge-vlan-kernel.js';
import type { PeerCapture } from './support/bridge-vlan-kernel.js';
import { mulberry32Float as rng } from '../src/netfilter/random.js';


const STATION = [BR_MAC.a, BR_MAC.b, BR_MAC.c];
const ROAMER = '02:00:00:00:0d:01';
const PORT = ['p0', 'p1', 'p2'];

function nfxHost(): Host {
  const host = bridgeHost({ addr4: '10.0.0.1/24' });
  for (const kv of KernelVlanBridge.SYSCTLS) { const [key, v] = kv.split('='); sysctlSet(host, key!, v!); }
  for (const [addr, mac] of BRIDGE_NEIGHS) ip(host, `neigh add ${addr} lladdr ${mac} dev br0 nud permanent`);
  return host;
}

function nfxRun(host: Host, tool: 'bridge' | 'ip', line: string): { status: number; out: string; err: string } {
  let out = '', err = '';
  const io = { out: (t: string) => { out += t; }, err: (t: string) => { err += t; } };
  const argv = line.split(/\s+/);
  const status = tool === 'bridge' ? runBridge(host, argv, io, 0) : runIp(host, argv, io);
  return { status, out, err };
}

/** The kernel's `bridge fdb show` without the devices' own address lists (`self` lines), which nfx does not model. */
function kernelFdb(text: string): string {
  return text.split('\n').filter((l) => l && !/ self (permanent|static)?/.test(l)).join('\n');
}

/** A frame from station `from` (or the roamer behind it); `tags` are the VIDs a frame may carry (0 = priority tag). */
function frameExpr(r: () => number, from: number, tags: number[]): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const roam = r() < 0.2;
  const src = roam ? ROAMER : STATION[from]!;
  const other = pick([0, 1, 2].filter((i) => i !== from));
  const dst = pick([STATION[other]!, STATION[other]!, ROAMER, '02:00:00:00:ee:ee', 'ff:ff:ff:ff:ff:ff', '02:00:00:00:0f:01', BR_MAC.p1]);
  const tag = tags.length && r() < 0.6 ? `/Dot1Q(vlan=${pick(tags)},prio=${Math.floor(r() * 8)})` : '';
  const ipSrc = roam ? '10.0.0.5' : `10.0.0.${2 + from}`;
  // Broadcast carries broadcast IP; unicast IP to another station (the host is 10.0.0.1 only behind BR_MAC.p1, PACKET_OTHERHOST there).
  const ipDst = dst === 'ff:ff:ff:ff:ff:ff' ? '10.0.0.255' : `10.0.0.${2 + other}`;
  return `Ether(src="${src}",dst="${dst}")${tag}/IP(src="${ipSrc}",dst="${ipDst}")/UDP(sport=${1000 + Math.floor(r() * 1000)},dport=9)/Raw(load=b"x")`;
}

/** One random `bridge fdb` change over a small set of MACs, ports and flags. */
function fdbOp(r: () => number, vlans: number[]): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  if (r() < 0.08) {
    // A bulk flush, on the bridge (all, or one port's) or on a port with `master`.
    const where = r() < 0.6 ? `dev br0${r() < 0.5 ? ` brport ${pick([...PORT, 'br0'])}` : ''}` : `dev ${pick(PORT)} master`;
    const what = pick(['static', 'dynamic', 'permanent', 'nopermanent', 'nostatic', 'nodynamic', 'sticky', 'nosticky', 'added_by_user', 'noadded_by_user', 'dynamic nosticky']);
    return `fdb flush ${where} ${what}`;
  }
  const mac = pick([...STATION, ROAMER, '02:00:00:00:0f:01', BR_MAC.p1]);
  const op = pick(['add', 'add', 'add', 'append', 'replace', 'del', 'del']);
  // Ports take `master` (with `self` a port's own address list would be asked, which nfx does not model).
  const onBridge = r() < 0.2;
  const dev = onBridge ? 'br0' : pick(PORT);
  const where = onBridge ? pick(['self', 'self', '', 'master']) : 'master';
  const state = op === 'del' ? '' : pick(['static', 'static', 'permanent', 'dynamic', '', 'sticky static', 'sticky']);
  const vlan = vlans.length && r() < 0.4 ? `vlan ${pick(vlans)}` : '';
  return ['fdb', op, mac, 'dev', dev, where, state, vlan].filter(Boolean).join(' ');
}

interface Tally { cmds: number; frames: number; failures: string[] }

/** Runs one line on both and compares status and error text. */
function compareCmd(k: KernelVlanBridge, host: Host, tool: 'bridge' | 'ip', line: string, tally: Tally): void {
  const kr = k.run(tool, line), nr = nfxRun(host, tool, line);
  tally.cmds++;
  // iproute2 exits 255 (bridge) or 2 (ip) when the kernel refuses; nfx's `bridge` says 255 for both its own and the kernel's refusals.
  if (kr.status !== nr.status || kr.err.trim() !== nr.err.trim()) {
    tally.failures.push(`${tool} ${line}\n  kernel: ${kr.status} ${kr.err.trim()}\n  nfx:    ${nr.status} ${nr.err.trim()}`);
  }
}

async function compareFrame(k: KernelVlanBridge, path: ReturnType<typeof bridgePath>, from: number, expr: string, tally: Tally): Promise<void> {
  const kernel = await k.send(from, expr);
  const bytes = Uint8Array.from(Buffer.from(kernel.sent, 'hex'));
  tally.frames++;
  if (Buffer.from(frame(expr)).toString('hex') !== kernel.sent) tally.failures.push(`nfx builds other bytes than scapy for ${expr}`);
  const out = path.receive(PORT[from]!, bytes);
  const mine: PeerCapture = [[], [], []];
  for (const e of out.emitted) mine[PORT.indexOf(e.dev)]!.push(Buffer.from(e.frame).toString('hex'));
  if (JSON.stringify(kernel.got) !== JSON.stringify(mine)) {
    tally.failures.push(`frame from ${PORT[from]}: ${expr}\n  kernel: ${JSON.stringify(kernel.got)}\n  nfx:    ${JSON.stringify(mine)} (${out.fate}${out.reason ? ` ${out.reason}` : ''})\n` +
      out.steps.map((s) => `    ${'  '.repeat(s.depth)}${s.kind}: ${s.text}`).join('\n'));
  }
}

function compareListing(k: KernelVlanBridge, host: Host, what: string, tally: Tally): void {
  const kernel = kernelFdb(k.run('bridge', 'fdb show br br0').out);
  const mine = nfxRun(host, 'bridge', 'fdb show br br0').out.split('\n').filter(Boolean).join('\n');
  if (kernel !== mine) tally.failures.push(`bridge fdb show after ${what}\n--- kernel\n${kernel}\n--- nfx\n${mine}`);
}

function seedOf(): number {
  const s = process.env['NFX_KERNEL_SEED'];
  return s === 'random' ? (Math.random() * 2 ** 32) >>> 0 : Number(s ?? 0x766c) >>> 0;
}

test('static FDB entries match the kernel: bridge fdb add/append/replace/del, the listing, and where frames go', async (t) => {
  const why = vlanKernelUnavailable();
  if (why) { t.skip(why); return; }
  const seed = seedOf();
  const r = rng(seed);
  const k = new KernelVlanBridge(`nfxfdb${process.pid}`);
  const tally: Tally = { cmds: 0, frames: 0, failures: [] };
  try {
    await k.open();
    const host = nfxHost();
    // Without VLAN groups in the kernel, nfx's bridge and ports go without them too: no default PVID
    // (br_vlan_disable_default_pvid) leaves every group empty, as such a kernel behaves.
    if (!k.vlanFiltering) ip(host, 'link set br0 type bridge vlan_default_pvid 0');
    const path = bridgePath(host, '', { detail: true });
    const vlans = k.vlanFiltering ? [1] : [];
    compareListing(k, host, 'setup', tally);
    for (let i = 0; i < 80 && tally.failures.length < 8; i++) {
      if (r() < 0.35) {
        const from = Math.floor(r() * 3);
        // Tagged frames too: with filtering off they cross untouched (the tag comes back from PACKET_AUXDATA).
        await compareFrame(k, path, from, frameExpr(r, from, [0, 5, 10]), tally);
      } else {
        const line = fdbOp(r, vlans);
        compareCmd(k, host, 'bridge', line, tally);
        compareListing(k, host, line, tally);
        if (process.env['NFX_BRIDGE_DEBUG'] === 'all') t.diagnostic(`${line}\n${kernelFdb(k.run('bridge', 'fdb show br br0').out)}`);
      }
    }
  } finally {
    k.close();
  }
  t.diagnostic(`static FDB differential (seed ${seed}): ${tally.cmds} commands, ${tally.frames} frames${k.vlanFiltering ? '' : '; this kernel has no VLAN groups, nor (vlan_default_pvid 0) has nfx\'s bridge'}`);
  assert.equal(tally.failures.length, 0, `${tally.failures.length} mismatches; first:\n${tally.failures.slice(0, 3).join('\n\n')}`);
});

test('VLAN filtering matches the kernel: ingress filtering, PVIDs, egress tagging, per-VLAN FDB, the listings', async (t) => {
  const why = vlanKernelUnavailable();
  if (why) { t.skip(why); return; }
  if (!kernelHasVlanFiltering(`nfxvl${process.pid}`)) {
    t.skip('this kernel has no CONFIG_BRIDGE_VLAN_FILTERING (ip link add type bridge vlan_filtering 1: Operation not supported); ' +
      'VLAN filtering is checked against net/bridge/br_vlan.c in path-bridge-vlan.test.ts');
    return;
  }
  const seed = seedOf();
  const r = rng(seed ^ 0x5a5a);
  const k = new KernelVlanBridge(`nfxvl${process.pid}`);
  const tally: Tally = { cmds: 0, frames: 0, failures: [] };
  let supported = true;
  try {
    await k.open();
    supported = k.vlanFiltering;
    const host = nfxHost();
    if (supported) compareCmd(k, host, 'ip', 'link set br0 type bridge vlan_filtering 1', tally);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const VIDS = [1, 10, 20, 30];
    for (let round = 0; supported && round < 6 && tally.failures.length < 8; round++) {
      // Random VLAN membership: each port and the bridge itself, each VID tagged, untagged, PVID, or absent.
      for (const dev of [...PORT, 'br0']) {
        for (const vid of VIDS) {
          const how = pick(['', '', 'untagged', 'pvid untagged', 'pvid', 'del']);
          const self = dev === 'br0' ? ' self' : '';
          const line = how === 'del' ? `vlan del dev ${dev} vid ${vid}${self}` : `vlan add dev ${dev} vid ${vid} ${how}${self}`.replace(/\s+/g, ' ').trim();
          compareCmd(k, host, 'bridge', line, tally);
        }
      }
      const kv = k.run('bridge', 'vlan show').out, nv = nfxRun(host, 'bridge', 'vlan show').out;
      if (kv !== nv) tally.failures.push(`bridge vlan show, round ${round}\n--- kernel\n${kv}--- nfx\n${nv}`);
      if (r() < 0.5) {
        const line = fdbOp(r, VIDS);
        compareCmd(k, host, 'bridge', line, tally);
      }
      // The path sees this round's configuration (a path reads the host as it is).
      const path = bridgePath(host, '', { detail: true });
      for (let f = 0; f < 12; f++) {
        const from = Math.floor(r() * 3);
        await compareFrame(k, path, from, frameExpr(r, from, [0, ...VIDS, 99]), tally);
      }
      compareListing(k, host, `round ${round}`, tally);
    }
  } finally {
    k.close();
  }
  assert.ok(supported, 'the kernel refused vlan_filtering after the probe accepted it');
  t.diagnostic(`VLAN differential (seed ${seed}): ${tally.cmds} commands, ${tally.frames} frames`);
  assert.equal(tally.failures.length, 0, `${tally.failures.length} mismatches; first:\n${tally.failures.slice(0, 3).join('\n\n')}`);
});
