/**
 * A tiny benchmark harness: time a piece of work once, print its rate, and
 * compare it with a baseline measured in the same run on the same machine
 * (absolute figures from another day or machine mean little; ratios do).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Figure {
  name: string;
  /** How many units of work were done (packets, rules, bytes...). */
  items: number;
  unit: string;
  /** Wall-clock seconds. */
  seconds: number;
  perSecond: number;
  /** CPU seconds (user + system) when known: steadier than wall time on a busy machine. */
  cpuSeconds?: number;
}

export class Harness {
  readonly figures: Figure[] = [];
  private readonly dirs: string[] = [];

  constructor(readonly suite: string, private readonly log: (line: string) => void = (l) => console.log(l)) {}

  /**
   * Runs `fn` `runs` times (default 1) and records the fastest run for
   * `items` units: the minimum is the figure least disturbed by other work
   * on the machine.
   */
  async time(name: string, items: number, unit: string, fn: () => unknown, runs = 1): Promise<Figure> {
    let best = Infinity;
    let bestCpu = Infinity;
    for (let i = 0; i < runs; i++) {
      const cpu0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await fn();
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(cpu0);
      if (seconds < best) {
        best = seconds;
        bestCpu = (cpu.user + cpu.system) / 1e6;
      }
    }
    return this.record(runs > 1 ? `${name} (best of ${runs})` : name, items, unit, best, bestCpu);
  }

  /** Records a figure measured elsewhere (e.g. an external program timed by the caller). */
  record(name: string, items: number, unit: string, seconds: number, cpuSeconds?: number): Figure {
    const figure: Figure = { name, items, unit, seconds, perSecond: items / seconds };
    if (cpuSeconds !== undefined) figure.cpuSeconds = cpuSeconds;
    this.figures.push(figure);
    const cpu = cpuSeconds !== undefined ? `  (cpu ${cpuSeconds.toFixed(3)} s)` : '';
    this.log(`  ${name.padEnd(40)} ${seconds.toFixed(3).padStart(9)} s  ${fmt(figure.perSecond).padStart(12)} ${unit}/s${cpu}`);
    return figure;
  }

  /** Prints and returns how many times faster `ours` is than `baseline` (rate over rate). */
  ratio(ours: Figure, baseline: Figure): number {
    const r = ours.perSecond / baseline.perSecond;
    const cpu = ours.cpuSeconds !== undefined && baseline.cpuSeconds !== undefined
      ? ` (by CPU time: ${(baseline.cpuSeconds / ours.cpuSeconds).toFixed(2)}x)`
      : '';
    this.log(`  ratio ${ours.name} / ${baseline.name}: ${r.toFixed(2)}x${cpu}`);
    return r;
  }

  note(text: string): void {
    this.log(`  ${text}`);
  }

  /** A fresh temporary directory, removed when the bench ends. */
  async tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `nfx-bench-${this.suite}-`));
    this.dirs.push(dir);
    return dir;
  }

  /** Whether an external program is installed (for baselines). */
  has(command: string): boolean {
    const r = spawnSync(command, ['--version'], { stdio: 'ignore' });
    return r.error === undefined && r.status === 0;
  }

  async cleanup(): Promise<void> {
    for (const dir of this.dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  }
}

/** 1234567.8 → "1,234,568". */
export function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
