/**
 * The kernel side of one expression type, as `struct nft_expr_ops`: `prepare`
 * is ->init (checks attributes, resolves sets and objects, fails with the
 * kernel's errno), `validate` is ->validate (hook/chain-type checks run at
 * commit for every chain a base chain reaches), and `eval` is ->eval
 * (the JIT in ../jit/ inlines what it knows and calls `eval` for the rest).
 */
import type { Expr } from '../bytecode.js';
import type { Vm } from '../vm.js';
import type { NftSet } from '../set/set.js';
import type { NftObject } from '../objects.js';
import type { Packet } from '../../packet/packet.js';
import { NFT_PAYLOAD_LL_HEADER, NFT_PAYLOAD_NETWORK_HEADER, NFT_PAYLOAD_TRANSPORT_HEADER, NFT_PAYLOAD_INNER_HEADER } from '../bytecode.js';
import { NftKernelError } from '../errors.js';

export interface BindContext {
  /** NFPROTO_* of the table. */
  family: number;
  table: string;
  set(name: string, id?: number): NftSet | undefined;
  obj(type: number, name: string): NftObject | undefined;
}

/** What ->validate sees: the base chain that reaches the rule. */
export interface ValidateContext {
  family: number;
  /** Hook number of the base chain. */
  hook: number;
  /** 'filter' | 'nat' | 'route'. */
  chainType: string;
}

export interface ExprOps<E extends Expr = Expr, P = unknown> {
  readonly type: E['type'];
  prepare(e: E, b: BindContext): P;
  validate?(e: E, v: ValidateContext): number;
  eval(p: P, vm: Vm): void;
}

export function fail(errno: number, detail?: string): never {
  throw new NftKernelError(errno, detail);
}

/**
 * Start of a payload base in pkt.buffer, -1 when the packet has none
 * (nft_payload_eval: no mac header, no transport header / a later fragment).
 */
export function baseOffset(pkt: Packet, base: number): number {
  switch (base) {
    case NFT_PAYLOAD_LL_HEADER: return pkt.macHeader;
    case NFT_PAYLOAD_NETWORK_HEADER: return pkt.networkHeader;
    case NFT_PAYLOAD_TRANSPORT_HEADER: return pkt.l4proto < 0 ? -1 : pkt.transportHeader;
    case NFT_PAYLOAD_INNER_HEADER: return pkt.innerNetworkHeader;
    default: return -1;
  }
}

/** skb->len at the hooks: from the network header on (layer-3 bytes), or the whole frame without one. */
export function pktLen(pkt: Packet): number {
  return pkt.tail - (pkt.networkHeader >= 0 ? pkt.networkHeader : pkt.head);
}

/** Copies `len` bytes into a register the way nft_data_copy/payload loads do: the partial last word is zeroed first. */
export function storeBytes(vm: Vm, off: number, src: Uint8Array, srcOff: number, len: number): void {
  const r8 = vm.r8;
  if (len & 3) vm.regs[(off + len) >> 2] = 0;
  for (let i = 0; i < len; i++) r8[off + i] = src[srcOff + i]!;
}

/** nft_reg_store8/16/32 helpers: a value in host (little-endian) order, the rest of the word zeroed. */
export function storeU32(vm: Vm, off: number, v: number): void { vm.regs[off >> 2] = v >>> 0; }
export function storeU16(vm: Vm, off: number, v: number): void { vm.regs[off >> 2] = v & 0xffff; }
export function storeU8(vm: Vm, off: number, v: number): void { vm.regs[off >> 2] = v & 0xff; }
export function storeBE16(vm: Vm, off: number, v: number): void { vm.regs[off >> 2] = ((v >>> 8) & 0xff) | ((v & 0xff) << 8); }
