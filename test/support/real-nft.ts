/**
 * The real nft 1.0.6 as an oracle: a fresh network namespace of its own (`unshare -n`), the
 * ruleset loaded with `nft -f -`, a shell step if the test needs one (traffic, say), then each
 * command, with its status and both streams kept apart. No side effect on import.
 */
import { spawnSync } from 'node:child_process';

export interface NftRun { status: number; out: string; err: string }

/** Each argv's run after `ruleset` is loaded and `before` (bash) has run; or why the real nft cannot run here. */
export function realNftRuns(ruleset: string, argvs: string[][], before = 'true'): NftRun[] | string {
  if (process.getuid?.() !== 0) return 'not root';
  const script = ['printf %s "$1" | nft -f - || exit 99', before, ...argvs.map((a) => `nft ${a.join(' ')}; echo "@@rc=$?" >&2; echo "@@" `)].join('\n');
  const r = spawnSync('unshare', ['-n', 'bash', '-c', script, 'bash', ruleset], { encoding: 'utf8' });
  if (r.error) return `unshare: ${r.error.message}`;
  if (r.status === 99 || /unshare failed|Operation not permitted|not found/.test(r.stderr)) return `real nft unusable: ${r.stderr.trim()}`;
  const outs = r.stdout.split('@@\n');
  const errs = r.stderr.split(/@@rc=(\d+)\n/);
  return argvs.map((_, i) => ({ status: Number(errs[2 * i + 1]), out: outs[i]!, err: errs[2 * i]! }));
}
