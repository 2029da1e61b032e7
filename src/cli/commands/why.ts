/**
 * `nfx -n H why (--iif DEV | --local) [--listen PROTO/PORT]... (PACKET | --hex HEX | -r FILE)`
 *
 * Explains one packet for a person: the path hook by hook, each chain that
 * ran and the rule that decided (its text and handle), routing and neighbour
 * decisions, rewritten headers, what the host sent because of it, and for a
 * drop the reason and the exact rule or check. `why` asks "what would
 * happen": it does not change the saved host (counters, conntrack).
 */
import { dissect } from '../../packet/dissect.js';
import { describe } from '../../packet/describe.js';
import { LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../../packet/pcap/index.js';
import { PacketExpressionError } from '../../packet/scapy/index.js';
import { FAMILY_NAME } from '../../netfilter/batch.js';
import { printRule } from '../../netfilter/bytecode-text.js';
import { verdictName } from '../../netfilter/bytecode-text.js';
import { NFT_GOTO, NFT_JUMP } from '../../netfilter/bytecode.js';
import type { Ruleset } from '../../netfilter/ruleset.js';
import type { TraceEvent } from '../../netfilter/trace.js';
import { openPath } from '../../host/path/state.js';
import type { PacketOutcome } from '../../host/path/types.js';
import { CommandError, EXIT_OK, UsageError, type CliContext } from '../context.js';
import { advanceClock, checkDevice, injectOne, inputPackets, loadHostOrFail, parseInjectArgs } from './inject.js';
import type { InputPacket } from './inject.js';

export const WHY_USAGE = 'Usage: nfx [-n NETNS] why (--iif DEV | --local) [--listen tcp|udp/PORT]... (PACKET | --hex HEX | -r FILE)';

/** The rule's nft text, or its bytecode lines when it has none. */
export function ruleText(ruleset: Ruleset, family: number, table: string, chain: string, handle: number): string[] {
  const r = ruleset.table(family, table)?.chains.get(chain)?.rules.find((x) => x.handle === handle);
  if (!r) return [`handle ${handle}`];
  if (r.source) return [r.source];
  return printRule(r.exprs).map((l) => l.trim());
}

function verdictOf(v: { code: number; chain?: string }): string {
  const name = verdictName(v.code >= 0 ? v.code & 0xff : v.code);
  return (v.code === NFT_JUMP || v.code === NFT_GOTO) && v.chain ? `${name} ${v.chain}` : name;
}

function chainEvents(ruleset: Ruleset, traces: TraceEvent[], indent: string): string[] {
  const out: string[] = [];
  for (const ev of traces) {
    const where = `${FAMILY_NAME[ev.family] ?? ev.family} ${ev.table} ${ev.chain}`;
    if (ev.type === 'policy') { out.push(`${indent}${where}: no rule decided; policy ${verdictOf(ev.verdict)}`); continue; }
    if (ev.type === 'return') { out.push(`${indent}${where}: end of chain, ${verdictOf(ev.verdict)}`); continue; }
    if (ev.handle === undefined) continue;
    const text = ev.handle !== undefined ? ruleText(ruleset, ev.family, ev.table, ev.chain, ev.handle) : ['?'];
    const v = verdictOf(ev.verdict);
    const head = `${indent}${where}: rule handle ${ev.handle ?? '?'} matched → ${v === 'continue' ? 'continue' : v}`;
    out.push(head);
    for (const t of text) out.push(`${indent}    ${t}`);
  }
  return out;
}

/** The explanation, line by line. */
export function explain(ruleset: Ruleset, p: InputPacket, where: string, out: PacketOutcome): string[] {
  const lines: string[] = [];
  lines.push(`packet: ${describe(dissect(p.data, p.l3 ? LINKTYPE_RAW : LINKTYPE_ETHERNET))}`);
  lines.push(`from:   ${where}`);
  lines.push('');
  let n = 0;
  for (const s of out.steps) {
    const indent = '   '.repeat(s.depth);
    const mark = s.depth > 0 ? '↳ ' : '';
    n++;
    lines.push(`${indent}${String(n).padStart(2)}. ${mark}${s.text}`);
    if (s.traces) lines.push(...chainEvents(ruleset, s.traces, `${indent}      `));
  }
  lines.push('');
  let verdict = `verdict: ${out.fate}`;
  if (out.fate === 'dropped') {
    verdict += ` — SKB_DROP_REASON_${out.reason ?? 'NOT_SPECIFIED'}`;
    const by = out.dropBy;
    if (by?.kind === 'rule') {
      lines.push(verdict);
      const fam = Object.entries(FAMILY_NAME).find(([, v]) => v === by.family)?.[0];
      if (by.handle === null) lines.push(`  by the policy of chain ${by.family} ${by.table} ${by.chain} (hook ${by.hook})`);
      else {
        lines.push(`  by rule handle ${by.handle} of chain ${by.family} ${by.table} ${by.chain} (hook ${by.hook}):`);
        for (const t of ruleText(ruleset, Number(fam), by.table, by.chain, by.handle)) lines.push(`    ${t}`);
      }
    } else if (by?.kind === 'check') {
      lines.push(verdict);
      lines.push(`  by the stack's check: ${by.check}`);
    } else lines.push(verdict);
  } else lines.push(verdict);
  for (const e of out.emitted) {
    lines.push(`sent on ${e.dev}: ${describe(dissect(e.frame, e.ether ? LINKTYPE_ETHERNET : LINKTYPE_RAW))}`);
  }
  return lines;
}

export async function whyCommand(argv: string[], ctx: CliContext): Promise<number> {
  const o = parseInjectArgs(argv, 'why', WHY_USAGE);
  if (o.json || o.write !== undefined) throw new UsageError(`why: --json and -w belong to inject\n${WHY_USAGE}`);
  const host = loadHostOrFail(ctx);
  checkDevice(host, o);
  const path = openPath(host, { listeners: o.listeners });
  let count = 0;
  try {
    for await (const p of inputPackets(o, ctx)) {
      if (count++ > 0) throw new UsageError(`why: explains one packet; give one (use inject for many)\n${WHY_USAGE}`);
      advanceClock(path, p);
      const out = injectOne(path, o, p);
      // A packet IP-TFS queued leaves (or is given up) when its timers fire.
      path.drain();
      ctx.stdout(explain(path.ruleset, p, o.local ? 'a local process' : `received on ${o.iif}`, out).join('\n') + '\n');
    }
  } catch (e) {
    if (e instanceof PacketExpressionError) throw new CommandError(e.format());
    throw e;
  }
  return EXIT_OK;
}
