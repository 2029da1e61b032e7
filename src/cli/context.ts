/** What every `nfx` command receives: the chosen virtual host and the process streams. */
export interface CliContext {
  /** The virtual host (network namespace) name from `-n`, `default` when not given. */
  netns: string;
  /** `$NFX_HOME`, default `~/.nfx`. */
  home: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Reads all of standard input (for `-f -`, `-r -`). */
  readStdin: () => Promise<Uint8Array>;
}

/** Exit statuses (CLI.md): 0 success, 1 the command failed, 2 usage error. */
export const EXIT_OK = 0;
export const EXIT_FAIL = 1;
export const EXIT_USAGE = 2;

/** A usage error: printed with the command's usage line, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A command failure whose message is already in the tool's own shape. Exit status 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

export type Command = (argv: string[], ctx: CliContext) => Promise<number>;
