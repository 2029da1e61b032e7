/**
 * A long-lived Python helper spoken to in JSON lines, for the kernel
 * differential harnesses (kernel-router.ts, bridge-kernel.ts): it prints
 * `ready` once its sockets are open, then answers each request line with one
 * JSON line. Requests queue in order; if the process dies, the pending ones
 * fail with its stderr. No side effects at import.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Debian's interpreter: the `python3` first on PATH may lack what the tests need. */
export const PY = '/usr/bin/python3';

export class PyInjector {
  private readonly waiting: Array<(line: string) => void> = [];
  private err = '';

  private constructor(private readonly py: ChildProcessWithoutNullStreams) {
    py.stderr.on('data', (d: Buffer) => { this.err += d.toString(); });
    createInterface({ input: py.stdout }).on('line', (l) => this.waiting.shift()?.(l));
    py.on('exit', () => { for (const w of this.waiting.splice(0)) w(''); });
  }

  /** Starts `script` with `args` and waits for its `ready` line. */
  static async start(script: string, args: string[]): Promise<PyInjector> {
    const inj = new PyInjector(spawn(PY, ['-c', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] }));
    const first = await new Promise<string>((res) => inj.waiting.push(res));
    if (first !== 'ready') { inj.stop(); throw new Error(`injector failed: ${inj.err}`); }
    return inj;
  }

  /** Sends one request; resolves with the parsed answer line. */
  request<T>(job: unknown): Promise<T> {
    return new Promise((res, rej) => {
      this.waiting.push((l) => (l ? res(JSON.parse(l) as T) : rej(new Error(`injector died: ${this.err}`))));
      this.py.stdin.write(`${JSON.stringify(job)}\n`);
    });
  }

  stop(): void { this.py.stdin.end(); this.py.kill(); }
}
