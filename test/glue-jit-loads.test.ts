/**
 * The JIT's register loads from the host against the interpreter: `meta
 * iifname`/`oifname`/`iifkind`/`oifkind` (inlined from a cache of name
 * words), `meta ipsec exists` and `meta pkttype` (inlined), and the loads it
 * calls out to without re-reading the packet (other meta keys, ct, rt,
 * ipsec). Devices with and without names longer than IFNAMSIZ - 1, packets
 * with and without input/output devices, conntrack keys that break, and
 * rules that compare what an earlier — possibly broken — load left in a
 * register. Verdict, deciding rule and trace must be equal, with tracing on
 * and off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ruleset } from '../src/netfilter/ruleset.js';
import { commitBatch } from '../src/netfilter/transaction.js';
import { evaluateHook } from '../src/netfilter/hooks.js';
import { NullHostServices } from '../src/netfilter/host-services.js';
import type { NetDevice } from '../src/netfilter/host-services.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { ipv4Packet, ipv6Packet } from '../src/netfilter/testing.js';
import type { Packet, SecPathEntry } from '../src/packet/packet.js';
import type { BatchOp } from '../src/netfilter/batch.js';
import type { Expr, Rule } from '../src/netfilter/bytecode.js';
import { NF_ACCEPT, NF_DROP, NFT_CT, NFT_META } from '../src/netfilter/bytecode.js';
import { formatTrace } from '../src/netfilter/trace.js';
import { printRule } from '../src/netfilter/bytecode-text.js';
import { ifnameWords } from '../src/netfilter/expr/meta.js';
import { mulberry32Float as prng } from '../src/netfilter/random.js';


/** ifindex 1–4; 0 and 5 have no device (the load breaks). */
const DEVICES: NetDevice[] = [
  { ifindex: 1, name: 'lo', type: 772, group: 0, kind: '' },
  { ifindex: 2, name: 'lan0', type: 1, group: 7, kind: '' },
  { ifindex: 3, name: 'a-very-long-ifname-x', type: 1, group: 0, kind: 'veth' },
  { ifindex: 4, name: 'wan0', type: 1, group: 0, kind: 'vlan' },
];
const NAMES = ['lo', 'lan0', 'a-very-long-ifname-x', 'a-very-long-if', 'a-very-long-ifn', 'wan0', 'veth', 'vlan', ''];

/** strncpy(reg, name, IFNAMSIZ) with the last byte NUL, as the kernel's interface name registers hold. */
function nameBytes(name: string): Uint8Array {
  const b = new Uint8Array(16);
  for (let i = 0; i < name.length && i < 15; i++) b[i] = name.charCodeAt(i);
  return b;
}

/** A host whose conntrack, route and secpath answers follow the packet's mark, so both runs see the same. */
class LoadHost extends NullHostServices {
  constructor() {
    super();
    for (const d of DEVICES) this.devices.set(d.ifindex, d);
  }
  override ctLoad(pkt: Packet, key: number, _dir: number | undefined, regs: Uint8Array, off: number): boolean {
    const m = pkt.meta.mark;
    if (m === 3 && key !== NFT_CT.STATE) return false; // no entry
    switch (key) {
      case NFT_CT.STATE: regs.set([m === 3 ? 1 : 1 << (1 + (m % 3)), 0, 0, 0], off); return true;
      case NFT_CT.DIRECTION: regs[off] = m & 1; return true;
      case NFT_CT.STATUS: regs.set([m * 0x21, 0, 1, 0], off); return true;
      case NFT_CT.MARK: regs.set([m, 0, 0, m], off); return true;
      case NFT_CT.PROTO_DST: regs[off] = 0; regs[off + 1] = 80 + m; return true;
      case NFT_CT.SRC: for (let i = 0; i < 16; i++) regs[off + i] = i < 4 ? 10 + m : 0; return true;
      default: return false;
    }
  }
  override rt(pkt: Packet, _family: number, key: number, regs: Uint8Array, off: number): boolean {
    if (key !== 4) return false;
    regs.set([pkt.meta.mark & 1, 0, 0, 0], off);
    return true;
  }
  override xfrm(pkt: Packet, _dir: number, _spnum: number, key: number, regs: Uint8Array, off: number): boolean {
    if (key !== 6 || pkt.meta.mark !== 2) return false;
    regs.set([0, 0, 0x10, 0x01], off);
    return true;
  }
}

const META_NAME_KEYS = [NFT_META.IIFNAME, NFT_META.OIFNAME, NFT_META.IIFKIND, NFT_META.OIFKIND];
/** Keys the JIT does not inline: called out to, then only their register words re-read. */
const META_CALLED = [NFT_META.IIFTYPE, NFT_META.OIFTYPE, NFT_META.IIFGROUP, NFT_META.OIFGROUP, NFT_META.SKUID, NFT_META.CPU, NFT_META.NFTRACE];
const CT_KEYS = [NFT_CT.STATE, NFT_CT.DIRECTION, NFT_CT.STATUS, NFT_CT.MARK, NFT_CT.PROTO_DST, NFT_CT.SRC, NFT_CT.ZONE];
const CT_LEN: Record<number, number> = { [NFT_CT.DIRECTION]: 1, [NFT_CT.PROTO_DST]: 2, [NFT_CT.SRC]: 16, [NFT_CT.ZONE]: 2 };

function gen(seed: number): BatchOp[] {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const small = (len: number): Uint8Array => Uint8Array.from({ length: len }, (_, i) => (i === 0 ? int(4) : rnd() < 0.8 ? 0 : int(3)));
  const ops: BatchOp[] = [
    { op: 'newtable', family: 1, table: 't' },
    // FORWARD: the one hook where rt ipsec and ipsec in/out are all valid.
    { op: 'newchain', family: 1, table: 't', chain: 'base', hook: { hooknum: 2, priority: 0 }, type: 'filter', policy: pick([NF_ACCEPT, NF_DROP]) },
  ];
  // Registers carry over from packet to packet in one VM: give every walk the same start.
  const init: Expr[] = [1, 2].map((dreg): Expr => ({ type: 'immediate', dreg, data: Uint8Array.from({ length: 16 }, (_, i) => i + dreg) }));
  ops.push({ op: 'newrule', family: 1, table: 't', chain: 'base', append: true, rule: { exprs: init, source: printRule(init).join(' ') } });
  const load = (reg: number): { e: Expr; cmp: () => Uint8Array } => {
    switch (int(8)) {
      case 0: case 1: {
        const key = pick(META_NAME_KEYS);
        return { e: { type: 'meta', key, dreg: reg }, cmp: () => nameBytes(pick(NAMES)) };
      }
      case 2: return { e: { type: 'meta', key: pick([NFT_META.SECPATH, NFT_META.PKTTYPE]), dreg: reg }, cmp: () => Uint8Array.of(int(3)) };
      case 3: {
        const key = pick(META_CALLED);
        const len = key === NFT_META.IIFTYPE || key === NFT_META.OIFTYPE ? 2 : key === NFT_META.NFTRACE ? 1 : 4;
        return { e: { type: 'meta', key, dreg: reg }, cmp: () => (len === 2 ? Uint8Array.of(pick([1, 4]), pick([0, 3])) : small(len)) };
      }
      case 4: case 5: {
        const key = pick(CT_KEYS);
        const len = CT_LEN[key] ?? 4;
        return { e: { type: 'ct', key, dreg: reg, ...(key === NFT_CT.SRC ? { dir: int(2) } : {}) }, cmp: () => small(len) };
      }
      case 6: return { e: { type: 'rt', key: 4, dreg: reg }, cmp: () => Uint8Array.of(int(2)) };
      default: return { e: { type: 'xfrm', key: 6, dir: int(2), spnum: 0, dreg: reg }, cmp: () => Uint8Array.of(0, 0, 0x10, int(3)) };
    }
  };
  const nRules = 1 + int(14);
  for (let k = 0; k < nRules; k++) {
    const exprs: Expr[] = [];
    const n = 1 + int(3);
    for (let m = 0; m < n; m++) {
      const reg = pick([1, 2]);
      switch (int(5)) {
        case 0: // what an earlier load (or the immediate below) left in the register
          exprs.push({ type: 'cmp', sreg: reg, op: int(2), data: rnd() < 0.5 ? nameBytes(pick(NAMES)) : small(pick([1, 2, 4])) });
          break;
        case 1: // a value in the register's words just before a load that may break
          exprs.push({ type: 'immediate', dreg: reg, data: small(16) });
          exprs.push(load(reg).e);
          break;
        default: {
          const l = load(reg);
          exprs.push(l.e);
          if (rnd() < 0.85) exprs.push({ type: 'cmp', sreg: reg, op: int(2), data: l.cmp() });
        }
      }
    }
    const v = int(6);
    if (v === 0) exprs.push({ type: 'immediate', dreg: 0, verdict: { code: NF_ACCEPT } });
    else if (v === 1) exprs.push({ type: 'immediate', dreg: 0, verdict: { code: NF_DROP } });
    else if (v === 2) exprs.push({ type: 'counter', packets: 0, bytes: 0 });
    const rule: Rule = { exprs, source: printRule(exprs).join(' ') };
    ops.push({ op: 'newrule', family: 1, table: 't', chain: 'base', append: true, rule });
  }
  return ops;
}

test('JIT and interpreter agree on meta, ct, rt and ipsec loads (20,000 pairs)', () => {
  const host = new LoadHost();
  const clock = new VirtualClock(0);
  let pairs = 0;
  for (let s = 1; s <= 200; s++) {
    const rs = new Ruleset();
    const res = commitBatch(rs, gen(s), clock);
    assert.ok(res.ok, `seed ${s}: ${JSON.stringify(!res.ok && res.errors)}`);
    const rnd = prng(s * 104729);
    const int = (n: number): number => Math.floor(rnd() * n);
    for (let k = 0; k < 100; k++) {
      const v6 = rnd() < 0.3;
      const mark = int(4), iif = int(6), oif = int(6), pktType = int(4), sp = int(3), traced = rnd() < 0.5;
      const mk = (): Packet => {
        const p = v6 ? ipv6Packet({ proto: 6, dport: 80 }) : ipv4Packet({ proto: 17, dport: 53 });
        Object.assign(p.meta, { mark, iif, oif, pktType });
        p.meta.secpath = sp === 0 ? null : sp === 1 ? [] : [{ spi: 0x1001 } as SecPathEntry];
        return p;
      };
      const ctx = (jit: boolean) => ({ host, clock, jit, traceAll: traced, traceId: 1 });
      const a = evaluateHook(rs, v6 ? 10 : 2, 2, mk(), ctx(false));
      const ra = { verdict: a.verdict, chain: a.chain, handle: a.handle, trace: a.traces.flatMap((e) => formatTrace(e)) };
      const b = evaluateHook(rs, v6 ? 10 : 2, 2, mk(), ctx(true));
      const rb = { verdict: b.verdict, chain: b.chain, handle: b.handle, trace: b.traces.flatMap((e) => formatTrace(e)) };
      assert.deepEqual(rb, ra, `seed ${s} packet ${k}`);
      pairs++;
    }
  }
  assert.equal(pairs, 20_000);
});

test('ifnameWords: strncpy into IFNAMSIZ — at most 15 bytes, zero-padded, one array per name', () => {
  const w = ifnameWords('wan0');
  assert.deepEqual([...new Uint8Array(w.buffer)], [...nameBytes('wan0')]);
  assert.equal(ifnameWords('wan0'), w, 'the same array for the same name');
  const long = new Uint8Array(ifnameWords('a-very-long-ifname-x').buffer);
  assert.equal(Buffer.from(long.subarray(0, 15)).toString('latin1'), 'a-very-long-ifn');
  assert.equal(long[15], 0, 'the last byte stays NUL');
  assert.deepEqual([...ifnameWords(undefined)], [0, 0, 0, 0]);
  assert.deepEqual([...ifnameWords('')], [0, 0, 0, 0]);
});
