/**
 * The register machine (net/netfilter/nf_tables_core.c, struct nft_regs):
 * 20 32-bit words; the verdict occupies the first 16 bytes (word 0 its code),
 * the four 128-bit registers NFT_REG_1..4 and the sixteen 32-bit registers
 * NFT_REG32_00..15 alias the same words. One preallocated typed array per VM;
 * expressions read packet bytes straight into its byte view.
 */
import type { Packet } from '../packet/packet.js';
import type { Clock } from './clock.js';
import type { HostServices } from './host-services.js';
import { NFT_REG_4, NFT_REG32_00, NFT_REG32_15, NFT_CONTINUE } from './bytecode.js';
import type { CompiledChain } from './runtime.js';

/** Receives the per-rule trace points of the chain runners (nft_trace_packet). */
export interface Tracer {
  /** A rule matched completely without a verdict (NFT_TRACETYPE_RULE, verdict continue). */
  ruleContinue(vm: Vm, chain: CompiledChain, ruleIndex: number): void;
}

/** NFT_REG32_NUM: u32 words in struct nft_regs. */
export const NFT_REG32_NUM = 20;

/**
 * Netlink register number → index of its first u32 word (nft_parse_register):
 * NFT_REG_1..4 are 16-byte registers at words 4, 8, 12, 16; NFT_REG32_00..15
 * are words 4..19. Register 0 is the verdict.
 */
export function regWord(reg: number): number {
  if (reg >= 0 && reg <= NFT_REG_4) return reg * 4;
  if (reg >= NFT_REG32_00 && reg <= NFT_REG32_15) return reg - NFT_REG32_00 + 4;
  throw new RangeError(`invalid register ${reg}`);
}

/** Validates that `len` bytes starting at data register `reg` fit the register file (nft_validate_register_load/store). */
export function regByteOffset(reg: number, len: number): number {
  const w = regWord(reg);
  if (w < 4 && reg !== 0) throw new RangeError(`invalid register ${reg}`);
  if (w * 4 + len > NFT_REG32_NUM * 4) throw new RangeError(`register ${reg} too small for ${len} bytes`);
  return w * 4;
}

export interface EvalEnv {
  /** NFPROTO_* of the table whose chain runs (inet chains see 1 here; `meta nfproto` reads `pf`). */
  family: number;
  /** The packet's own protocol family for inet/bridge/netdev (NFPROTO_IPV4 2 / IPV6 10), as nft_pf(). */
  pf: number;
  /** NF_INET_* hook number (or NF_NETDEV_*). */
  hook: number;
  host: HostServices;
  clock: Clock;
  /** CPU the packet is processed on (`meta cpu`). */
  cpu: number;
  /** Pseudo-random u32 source (`meta random`, `numgen random`); deterministic in tests. */
  random(): number;
}

export class Vm {
  readonly regs = new Uint32Array(NFT_REG32_NUM);
  readonly r8 = new Uint8Array(this.regs.buffer);
  readonly view = new DataView(this.regs.buffer);
  /** regs as signed words, for the verdict code in word 0. */
  readonly code = new Int32Array(this.regs.buffer);
  /** Target chain name of an NFT_JUMP/NFT_GOTO verdict (the kernel keeps a pointer in the verdict register). */
  chain: string | undefined = undefined;
  pkt!: Packet;
  env!: EvalEnv;
  /** Set only while tracing: one branch per rule when off (STYLE.md §9). */
  tracer: Tracer | undefined = undefined;
  /** The jump stack (NFT_JUMP_STACK_SIZE entries): chain and the rule to resume at. */
  readonly stackChain: Array<CompiledChain | undefined> = new Array(16).fill(undefined);
  readonly stackRule = new Int32Array(16);

  reset(pkt: Packet, env: EvalEnv): void {
    this.pkt = pkt;
    this.env = env;
    this.code[0] = NFT_CONTINUE;
    this.chain = undefined;
  }
}
