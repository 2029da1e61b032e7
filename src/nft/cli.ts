/**
 * `nfx -n H nft ...` (CLI.md): nft 1.0.6's command line over a virtual
 * host's ruleset. Options: -c (check only), -f FILE / -f -, -s, -n, -p
 * (accepted), -a, -j (rule JSON), --debug=netlink; commands as arguments.
 * The caller (src/cli) owns the host store: it passes the ruleset, the
 * commit function and file access, and prints what comes back.
 */
import type { Ruleset } from '../netfilter/ruleset.js';
import type { BatchOp } from '../netfilter/batch.js';
import type { CommitResult } from '../netfilter/transaction.js';
import { printElementLine, printExpr, printSetDecl } from '../netfilter/bytecode-text.js';
import { buildBatch } from './batch.js';
import { NftError, formatError } from './diagnostics.js';
import { listRuleset } from './list-ruleset.js';

export interface NftHost {
  ruleset: Ruleset;
  /** Commits a batch (transaction.ts commitBatch with the host's clock). */
  commit: (batch: BatchOp[]) => CommitResult;
  readFile: (path: string) => string | undefined;
  readStdin: () => Promise<string>;
  /** Interface names of the host, for `iif NAME` (creation order; `lo` is 1). */
  interfaces?: string[];
}

export interface NftResult { code: number; stdout: string; stderr: string }

const FAMILY_OF: Record<number, string> = { 1: 'inet', 2: 'ip', 3: 'arp', 5: 'netdev', 7: 'bridge', 10: 'ip6' };

/** The `--debug=netlink` lines nft prints for a batch. */
export function debugBatch(batch: BatchOp[]): string[] {
  const out: string[] = [];
  for (const op of batch) {
    if (op.op === 'newset' && op.set.name.includes('%d')) {
      out.push(printSetDecl(op.set));
    } else if (op.op === 'newsetelem' && op.set.includes('%d')) {
      out.push(printSetDecl({ name: op.set, table: op.table, flags: 0 }));
      out.push(printElementLine(op.elements));
    } else if (op.op === 'newrule') {
      out.push(`${FAMILY_OF[op.family]} ${op.table} ${op.chain} `);
      for (const e of op.rule.exprs) out.push(`  ${printExpr(e)}`);
      out.push('');
    }
  }
  return out;
}

/** Runs one nft invocation. Never throws for user errors: they come back nft-shaped on stderr. */
export async function runNft(argv: string[], host: NftHost): Promise<NftResult> {
  let check = false;
  let stateless = false;
  let numeric = false;
  let debugNetlink = false;
  let file: string | undefined;
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-c' || a === '--check') check = true;
    else if (a === '-s' || a === '--stateless') stateless = true;
    else if (a === '-n' || a === '--numeric') numeric = true;
    else if (a === '-p' || a === '-a' || a === '-y' || a === '-t' || a === '-j' || a === '--handle' || a === '--json') { /* accepted; see docs/nft.md */ }
    else if (a === '--debug=netlink' || (a === '--debug' && argv[i + 1] === 'netlink' && ++i)) debugNetlink = true;
    else if (a === '-f' || a === '--file') file = argv[++i];
    else words.push(a);
  }
  let src: string;
  let name = '<cmdline>';
  if (file !== undefined) {
    if (file === '-') { src = await host.readStdin(); name = '/dev/stdin'; }
    else {
      const text = host.readFile(file);
      if (text === undefined) return { code: 1, stdout: '', stderr: `Error: Could not process rule: No such file or directory\n` };
      src = text;
      name = file;
    }
  } else src = words.join(' ');
  if (src.trim() === '') return { code: 2, stdout: '', stderr: 'Error: no command specified\n' };
  const sources = new Map([[name, src]]);
  // Listing commands read the committed state.
  const m = /^\s*list\s+(ruleset|table)\b\s*(\S+)?\s*(\S+)?/.exec(src);
  if (m && file === undefined) {
    let text = listRuleset(host.ruleset, { stateful: !stateless, numeric });
    if (m[1] === 'table') {
      const [fam, table] = m[3] ? [m[2], m[3]] : ['ip', m[2]];
      const re = new RegExp(`^table ${fam} ${table} \\{[\\s\\S]*?^\\}$`, 'm');
      const found = re.exec(text);
      if (!found) return { code: 1, stdout: '', stderr: `Error: No such file or directory\nlist table ${fam} ${table}\n` };
      text = found[0] + '\n';
    }
    return { code: 0, stdout: text, stderr: '' };
  }
  let batch: BatchOp[];
  try {
    batch = buildBatch(src, name, { interfaces: host.interfaces, include: (p) => host.readFile(p) });
  } catch (e) {
    if (e instanceof NftError) return { code: 1, stdout: '', stderr: formatError(e, sources) + '\n' };
    throw e;
  }
  const stdout = debugNetlink ? debugBatch(batch).join('\n') + '\n' : '';
  if (check) return { code: 0, stdout, stderr: '' };
  const res = host.commit(batch);
  if (!res.ok) {
    const stderr = res.errors.map((er) => `Error: ${er.message}\n`).join('');
    return { code: 1, stdout, stderr };
  }
  return { code: 0, stdout, stderr: '' };
}
