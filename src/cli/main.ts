#!/usr/bin/env node
/**
 * `nfx [-n NETNS] COMMAND ...` — argv in, a library call, text out.
 * Global options come before the command, as with `ip -n NETNS`.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { commands } from './commands/index.js';
import { CommandError, EXIT_FAIL, EXIT_USAGE, UsageError, type CliContext } from './context.js';

const USAGE = `Usage: nfx [-n NETNS] COMMAND [ARGS...]
       nfx help`;

function help(): string {
  const lines = [USAGE, '', 'Commands:'];
  for (const [name, c] of commands) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  lines.push('', 'See docs/cli.md for the full reference.');
  return lines.join('\n') + '\n';
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

export async function main(argv: string[]): Promise<number> {
  let netns = 'default';
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-n' || a === '-netns' || a === '--netns') {
      const v = argv[++i];
      if (v === undefined) return usage('option "-n" requires a namespace name');
      netns = v;
    } else if (a === '-h' || a === '--help' || a === 'help') {
      process.stdout.write(help());
      return 0;
    } else if (a.startsWith('-')) {
      return usage(`unknown option "${a}"`);
    } else break;
  }
  const name = argv[i];
  if (name === undefined) return usage('no command given');
  const command = commands.get(name);
  if (!command) return usage(`unknown command "${name}"`);
  if (!/^[A-Za-z0-9_.-]+$/.test(netns) || netns.startsWith('.')) return usage(`invalid namespace name "${netns}"`);
  const ctx: CliContext = {
    netns,
    home: process.env['NFX_HOME'] || join(homedir(), '.nfx'),
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    readStdin,
  };
  try {
    return await command.run(argv.slice(i + 1), ctx);
  } catch (e) {
    if (e instanceof UsageError) return usage(e.message);
    if (e instanceof CommandError) {
      process.stderr.write(e.message.endsWith('\n') ? e.message : e.message + '\n');
      return EXIT_FAIL;
    }
    throw e;
  }
}

function usage(message: string): number {
  process.stderr.write(`nfx: ${message}\n${USAGE}\n`);
  return EXIT_USAGE;
}

// Run only when executed, not when imported by tests.
const invokedAs = process.argv[1] ?? '';
if (invokedAs.endsWith('/cli/main.js') || invokedAs.endsWith('/nfx')) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e: unknown) => {
      process.stderr.write(`nfx: internal error: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exitCode = 70;
    },
  );
}
