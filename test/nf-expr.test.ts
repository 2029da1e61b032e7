/**
 * Expressions one by one: bytes in, registers/verdict/packet out, the corners
 * the kernel code handles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Expr, SetElement } from '../src/netfilter/bytecode.js';
import { NFT_CONTINUE, NFT_BREAK, NFT_SET_MAP, NFT_SET_INTERVAL, NFT_SET_CONCAT, NFT_SET_TIMEOUT, NFT_DATA_VERDICT, NF_DROP, NF_ACCEPT } from '../src/netfilter/bytecode.js';
import { EXPR_OPS } from '../src/netfilter/expr/index.js';
import { NftSet } from '../src/netfilter/set/set.js';
import type { SetDecl } from '../src/netfilter/set/set.js';
import { Vm } from '../src/netfilter/vm.js';
import type { EvalEnv } from '../src/netfilter/vm.js';
import { NullHostServices } from '../src/netfilter/host-services.js';
import { VirtualClock } from '../src/netfilter/clock.js';
import { jhash } from '../src/netfilter/expr/hash.js';
import { ipv4Packet } from '../src/netfilter/testing.js';
import { ruleFromText } from '../src/netfilter/testing.js';
import type { Packet } from '../src/packet/packet.js';
import { internetChecksum, pseudoSum4, finish } from '../src/packet/checksum.js';

const clock = new VirtualClock(1_000_000);
const host = new NullHostServices();
const env: EvalEnv = { family: 2, pf: 2, hook: 1, host, clock, cpu: 0, random: () => 0x12345678 };

/** Runs expressions like one rule; returns the VM (verdict in code[0]). */
function run(exprs: Expr[] | string, pkt: Packet, sets: NftSet[] = [], vm = new Vm()): Vm {
  const list = typeof exprs === 'string' ? ruleFromText(exprs).exprs : exprs;
  const b = { family: 2, table: 't', set: (n: string) => sets.find((s) => s.name === n), obj: () => undefined };
  vm.reset(pkt, env);
  for (const e of list) {
    const ops = EXPR_OPS[e.type];
    ops.eval(ops.prepare(e, b), vm);
    if (vm.code[0] !== NFT_CONTINUE) break;
  }
  return vm;
}
function set(decl: Partial<SetDecl> & { keyLen: number }, elements: SetElement[] = []): NftSet {
  const s = new NftSet({ table: 't', name: 's', flags: 0, keyType: 0, ...decl });
  for (const e of elements) assert.equal(s.add(e, clock.nowMs(), true), 0);
  return s;
}
const ipv4Valid = (p: Packet): boolean => internetChecksum(p.buffer, p.networkHeader, 20) === 0;
function tcpValid(p: Packet): boolean {
  const n = p.networkHeader;
  const len = p.tail - p.transportHeader;
  return finish(pseudoSum4(p.buffer, n + 12, n + 16, 6, len) + 0) !== undefined &&
    internetChecksum(p.buffer, p.transportHeader, len, pseudoSum4(p.buffer, n + 12, n + 16, 6, len)) === 0;
}

test('jhash is lookup3 hashlittle (the kernel jhash)', () => {
  const enc = new TextEncoder();
  assert.equal(jhash(new Uint8Array(0), 0, 0, 0), 0xdeadbeef);
  const s = enc.encode('Four score and seven years ago');
  assert.equal(jhash(s, 0, s.length, 0), 0x17770551);
  assert.equal(jhash(s, 0, s.length, 1), 0xcd628161);
});

test('payload loads zero the partial register word; meta mark is host order', () => {
  const vm = new Vm();
  vm.regs[4] = 0xffffffff;
  run('[ payload load 2b @ transport header + 2 => reg 1 ]', ipv4Packet({ dport: 0x1234 }), [], vm);
  assert.equal(vm.regs[4], 0x3412);
  const p = ipv4Packet();
  p.meta.mark = 0x01020304;
  run('[ meta load mark => reg 9 ]', p, [], vm);
  assert.equal(vm.regs[5], 0x01020304);
});

test('payload write fixes the IPv4 header checksum and, with the pseudo-header flag, the TCP checksum', () => {
  const p = ipv4Packet({ ttl: 64 });
  assert.ok(ipv4Valid(p) && tcpValid(p));
  run(`[ immediate reg 1 0x00000621 ]
  [ payload write reg 1 => 2b @ network header + 8 csum_type 1 csum_off 10 csum_flags 0x0 ]`, p);
  assert.equal(p.buffer[p.networkHeader + 8], 0x21);
  assert.ok(ipv4Valid(p));
  run(`[ immediate reg 1 0x0301a8c0 ]
  [ payload write reg 1 => 4b @ network header + 12 csum_type 1 csum_off 10 csum_flags 0x1 ]`, p);
  assert.deepEqual([...p.buffer.subarray(p.networkHeader + 12, p.networkHeader + 16)], [192, 168, 1, 3]);
  assert.ok(ipv4Valid(p));
  assert.ok(tcpValid(p));
});

test('TCP options: mss may only be lowered; reset turns the option into NOPs; checksums stay valid', () => {
  const mk = () => ipv4Packet({ tcpOptions: [2, 4, 0x05, 0xb4, 4, 2, 1, 1] });
  const lower = mk();
  run('[ immediate reg 1 0x00001005 ]\n[ exthdr write tcpopt reg 1 => 2b @ 2 + 2 ]', lower);
  assert.equal((lower.buffer[lower.transportHeader + 22]! << 8) | lower.buffer[lower.transportHeader + 23]!, 0x0510);
  assert.ok(tcpValid(lower));
  const higher = mk();
  run('[ immediate reg 1 0x0000dc05 ]\n[ exthdr write tcpopt reg 1 => 2b @ 2 + 2 ]', higher);
  assert.equal((higher.buffer[higher.transportHeader + 22]! << 8) | higher.buffer[higher.transportHeader + 23]!, 1460);
  const reset = mk();
  run('[ exthdr reset tcpopt 4 ]', reset);
  assert.deepEqual([...reset.buffer.subarray(reset.transportHeader + 24, reset.transportHeader + 26)], [1, 1]);
  assert.ok(tcpValid(reset));
  const vm = run('[ exthdr load tcpopt 1b @ 4 + 0 present => reg 1 ]\n[ cmp eq reg 1 0x00000001 ]', mk());
  assert.equal(vm.code[0], NFT_CONTINUE);
  assert.equal(run('[ exthdr load tcpopt 1b @ 8 + 0 present => reg 1 ]\n[ cmp eq reg 1 0x00000001 ]', mk()).code[0], NFT_BREAK);
  assert.equal(run('[ exthdr load tcpopt 4b @ 8 + 2 => reg 1 ]', mk()).code[0], NFT_BREAK);
});

test('bitwise shifts carry between host-order words; byteorder swaps', () => {
  const vm = new Vm();
  run('[ immediate reg 1 0x80000001 ]\n[ bitwise reg 1 = ( reg 1 << 0x00000004 ) ]', ipv4Packet(), [], vm);
  assert.equal(vm.regs[4], 0x00000010);
  run('[ immediate reg 1 0x12345678 ]\n[ byteorder reg 1 = hton(reg 1, 4, 4) ]', ipv4Packet(), [], vm);
  assert.equal(vm.regs[4], 0x78563412);
  run('[ immediate reg 1 0x12345678 ]\n[ byteorder reg 1 = ntoh(reg 1, 2, 4) ]', ipv4Packet(), [], vm);
  assert.equal(vm.regs[4], 0x34127856);
});

test('cmp orders by memcmp: network-order data compares numerically', () => {
  const p = () => ipv4Packet({ dport: 0x0100 });
  // dport 256 > 255 although its first little-endian byte is smaller.
  assert.equal(run('[ payload load 2b @ transport header + 2 => reg 1 ]\n[ cmp gt reg 1 0x0000ff00 ]', p()).code[0], NFT_CONTINUE);
  assert.equal(run('[ payload load 2b @ transport header + 2 => reg 1 ]\n[ cmp lt reg 1 0x0000ff00 ]', p()).code[0], NFT_BREAK);
});

test('limit: burst then refill on the virtual clock; over inverts', () => {
  const e: Expr = { type: 'limit', rate: 1, unit: 1, burst: 2, limitType: 0, flags: 0 };
  const vm = new Vm();
  const b = { family: 2, table: 't', set: () => undefined, obj: () => undefined };
  const p = EXPR_OPS.limit.prepare(e, b);
  const once = (): number => { vm.reset(ipv4Packet(), env); EXPR_OPS.limit.eval(p, vm); return vm.code[0]!; };
  assert.deepEqual([once(), once(), once()], [NFT_CONTINUE, NFT_CONTINUE, NFT_BREAK]);
  clock.advance(1000);
  assert.equal(once(), NFT_CONTINUE);
  assert.equal(once(), NFT_BREAK);
});

test('quota: the packet that reaches the quota breaks; over inverts', () => {
  const q: Expr = { type: 'quota', bytes: 100, consumed: 0, flags: 0 };
  const seq = [0, 1, 2].map(() => run([q], ipv4Packet()).code[0]);
  assert.deepEqual(seq, [NFT_CONTINUE, NFT_CONTINUE, NFT_BREAK]);
  assert.equal(q.type === 'quota' && q.consumed, 120);
});

test('dynset adds with a timeout that expires on the clock; lookups see it meanwhile', () => {
  const s = set({ keyLen: 4, flags: NFT_SET_TIMEOUT, timeout: 5000 });
  const add = '[ payload load 4b @ network header + 12 => reg 1 ]\n[ dynset add reg_key 1 set s timeout 1000ms ]';
  const look = '[ payload load 4b @ network header + 12 => reg 1 ]\n[ lookup reg 1 set s ]';
  assert.equal(run(look, ipv4Packet({ src: '1.2.3.4' }), [s]).code[0], NFT_BREAK);
  run(add, ipv4Packet({ src: '1.2.3.4' }), [s]);
  assert.equal(run(look, ipv4Packet({ src: '1.2.3.4' }), [s]).code[0], NFT_CONTINUE);
  clock.advance(999);
  assert.equal(run(look, ipv4Packet({ src: '1.2.3.4' }), [s]).code[0], NFT_CONTINUE);
  clock.advance(1);
  assert.equal(run(look, ipv4Packet({ src: '1.2.3.4' }), [s]).code[0], NFT_BREAK);
});

test('size limit: a full set refuses elements (ENFILE) and dynset breaks', () => {
  const s = set({ keyLen: 4, size: 1 }, [{ key: Uint8Array.of(9, 9, 9, 9), flags: 0 }]);
  assert.equal(s.add({ key: Uint8Array.of(8, 8, 8, 8), flags: 0 }, clock.nowMs(), false), 23);
  assert.equal(run('[ payload load 4b @ network header + 12 => reg 1 ]\n[ dynset add reg_key 1 set s ]', ipv4Packet({ src: '1.1.1.1' }), [s]).code[0], NFT_BREAK);
});

test('concatenated ranges match field by field; a verdict map falls back to its catch-all', () => {
  const key = (a: number[], port: number) => Uint8Array.of(...a, port >> 8, port & 0xff, 0, 0);
  const cr = set({ keyLen: 8, flags: NFT_SET_INTERVAL | NFT_SET_CONCAT, fieldLengths: [4, 2] },
    [{ key: key([10, 0, 0, 0], 1000), keyEnd: key([10, 0, 0, 255], 2000), flags: 0 }]);
  const rule = `[ payload load 4b @ network header + 12 => reg 1 ]
  [ payload load 2b @ transport header + 2 => reg 9 ]
  [ lookup reg 1 set s ]`;
  assert.equal(run(rule, ipv4Packet({ src: '10.0.0.7', dport: 1500 }), [cr]).code[0], NFT_CONTINUE);
  assert.equal(run(rule, ipv4Packet({ src: '10.0.0.7', dport: 2001 }), [cr]).code[0], NFT_BREAK);
  assert.equal(run(rule, ipv4Packet({ src: '10.0.1.7', dport: 1500 }), [cr]).code[0], NFT_BREAK);
  const vmap = set({ keyLen: 2, flags: NFT_SET_MAP, dataType: NFT_DATA_VERDICT, dataLen: 16 }, [
    { key: Uint8Array.of(0, 22), flags: 0, verdict: { code: NF_ACCEPT } },
    { key: new Uint8Array(0), flags: 2, verdict: { code: NF_DROP } },
  ]);
  const v = '[ payload load 2b @ transport header + 2 => reg 1 ]\n[ lookup reg 1 set s dreg 0 ]';
  assert.equal(run(v, ipv4Packet({ dport: 22 }), [vmap]).code[0], NF_ACCEPT);
  assert.equal(run(v, ipv4Packet({ dport: 23 }), [vmap]).code[0], NF_DROP);
});

test('numgen inc starts at 0 and wraps; hash scales into the modulus with an offset', () => {
  const ng: Expr = { type: 'numgen', dreg: 1, modulus: 2, ngType: 0, offset: 100 };
  const b = { family: 2, table: 't', set: () => undefined, obj: () => undefined };
  const p = EXPR_OPS.numgen.prepare(ng, b);
  const vm = new Vm();
  vm.reset(ipv4Packet(), env);
  const seq: number[] = [];
  for (let i = 0; i < 4; i++) { EXPR_OPS.numgen.eval(p, vm); seq.push(vm.regs[4]!); }
  assert.deepEqual(seq, [100, 101, 100, 101]);
  run('[ payload load 8b @ network header + 12 => reg 2 ]\n[ hash reg 1 = jhash(reg 2, 8, 0xdeadbeef) % mod 2 offset 100 ]', ipv4Packet(), [], vm);
  assert.ok(vm.regs[4] === 100 || vm.regs[4] === 101);
});

test('ct state without a conntrack entry reads as invalid; other ct keys break', () => {
  const vm = run('[ ct load state => reg 1 ]', ipv4Packet());
  assert.equal(vm.code[0], NFT_CONTINUE);
  assert.equal(vm.regs[4], 1);
  assert.equal(run('[ ct load mark => reg 1 ]', ipv4Packet()).code[0], NFT_BREAK);
});

test('reject asks the host for the reply and drops', () => {
  const h = new NullHostServices();
  const vm = new Vm();
  vm.reset(ipv4Packet(), { ...env, host: h });
  const p = EXPR_OPS.reject.prepare({ type: 'reject', rejectType: 1, icmpCode: 0 }, { family: 2, table: 't', set: () => undefined, obj: () => undefined });
  EXPR_OPS.reject.eval(p, vm);
  assert.equal(vm.code[0], NF_DROP);
  assert.deepEqual(h.rejects, [{ family: 2, rejectType: 1, icmpCode: 0 }]);
});
