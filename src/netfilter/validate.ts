/**
 * Commit-time validation (nf_tables_api.c nft_table_validate /
 * nft_chain_validate): every chain a base chain reaches is checked with that
 * base chain's hook and type, and the jump depth is bounded, which refuses
 * every loop — also through verdict maps — with EMLINK ("Too many links").
 */
import type { Expr } from './bytecode.js';
import { NFT_JUMP, NFT_GOTO } from './bytecode.js';
import type { TableState, ChainState } from './ruleset.js';
import { EXPR_OPS } from './expr/index.js';
import { NftKernelError, ERRNO } from './errors.js';

/** NFT_JUMP_STACK_SIZE. */
export const NFT_JUMP_STACK_SIZE = 16;

/** Chains a rule jumps to (immediate verdicts and verdict-map elements). */
export function ruleTargets(exprs: readonly Expr[], table: TableState): string[] {
  const out: string[] = [];
  for (const e of exprs) {
    if (e.type === 'immediate' && e.verdict && (e.verdict.code === NFT_JUMP || e.verdict.code === NFT_GOTO) && e.verdict.chain) out.push(e.verdict.chain);
    if (e.type === 'lookup' && e.dreg === 0) {
      const set = table.sets.get(e.set);
      if (!set) continue;
      const els = [...set.backend.elements()];
      if (set.catchall) els.push(set.catchall);
      for (const el of els) if (el.verdict && (el.verdict.code === NFT_JUMP || el.verdict.code === NFT_GOTO) && el.verdict.chain) out.push(el.verdict.chain);
    }
  }
  return out;
}

/**
 * nft_chain_validate / nft_table_validate: from every base chain, walk every
 * reachable chain with the base chain's hook, calling each expression's
 * ->validate; a jump 16 levels deep (which every loop reaches) is EMLINK.
 */
export function validateTable(t: TableState): NftKernelError | undefined {
  for (const base of t.chains.values()) {
    if (!base.hook) continue;
    const v = { family: t.family, hook: base.hook.hooknum, chainType: base.type ?? 'filter' };
    // Deepest level at which a chain has been checked from this base chain: deeper visits recheck only the depth.
    const seen = new Map<string, number>();
    const path: string[] = [];
    const walk = (ch: ChainState, level: number): NftKernelError | undefined => {
      const prev = seen.get(ch.name);
      if (prev !== undefined && prev <= level && !path.includes(ch.name)) return undefined;
      seen.set(ch.name, Math.min(prev ?? level, level));
      path.push(ch.name);
      try {
        for (const r of ch.rules) {
          for (const e of r.exprs) {
            const errno = EXPR_OPS[e.type].validate?.(e, v) ?? 0;
            if (errno) return new NftKernelError(errno, `${e.type} is not allowed in chain ${ch.name} reached from ${base.name}`);
          }
          for (const target of ruleTargets(r.exprs, t)) {
            const tc = t.chains.get(target);
            if (!tc) continue;
            const loopAt = path.indexOf(target);
            if (loopAt >= 0) return new NftKernelError(ERRNO.EMLINK, `jump loop ${[...path.slice(loopAt), target].join(' -> ')}`);
            if (level + 1 >= NFT_JUMP_STACK_SIZE) {
              return new NftKernelError(ERRNO.EMLINK, `jump depth over ${NFT_JUMP_STACK_SIZE}: ${[...path, target].join(' -> ')}`);
            }
            const err = walk(tc, level + 1);
            if (err) return err;
          }
        }
        return undefined;
      } finally {
        path.pop();
      }
    };
    const err = walk(base, 0);
    if (err) return err;
  }
  return undefined;
}

