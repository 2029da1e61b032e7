/**
 * `nfx run FILE`: a script of `ip`, `bridge`, `sysctl` and `nft` lines applied to one host.
 *
 * nfx reads the words itself — quotes, `\` continuations, `#` comments and
 * here-documents (`nft -f - <<'EOF'`) as a POSIX shell reads them — and never
 * hands a line to a shell or starts a program. Shell features that would need one
 * (pipes, redirections, `$` expansions, `;`, `&&`, and prefixes such as `sudo` or
 * `ip netns exec`) are refused with the line named. The runner stops at the first
 * failing line; the caller saves the host only when every line succeeded.
 */
import type { Host } from './types.js';
import { runIp } from './ip/index.js';
import { runBridge } from './bridge-cmd.js';
import { hostClock } from './path/state.js';
import { runSysctl } from './sysctl-cmd.js';

export interface ScriptLineIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** What a command handler gets for one script line. */
export interface ScriptEnv {
  host: Host;
  io: ScriptLineIo;
  /** The here-document text, when the line had one (`-f -` reads it). */
  stdin?: string;
  /** Reads a file the line names (e.g. `nft -f FILE`), relative to the current directory. */
  readFile: (path: string) => string;
  /** Where the line came from, for messages. */
  file: string;
  line: number;
}

/**
 * One command of a script: `argv` is the line's words after the command name.
 * Returns the exit status (0 = success); messages go to `env.io`.
 */
export type ScriptHandler = (argv: string[], env: ScriptEnv) => number | Promise<number>;

/** The handlers nfx has itself; `nft` joins when the nft command provides one. */
export function builtinHandlers(): Map<string, ScriptHandler> {
  return new Map<string, ScriptHandler>([
    ['ip', (argv, env) => runIp(env.host, argv, env.io)],
    // FDB ageing reads the host's virtual clock, as `nfx bridge` does.
    ['bridge', (argv, env) => runBridge(env.host, argv, env.io, hostClock(env.host).nowMs())],
    ['sysctl', (argv, env) => runSysctl(env.host, argv, env.io)],
  ]);
}

export interface ScriptLine {
  /** 1-based number of the line the command starts on. */
  line: number;
  /** The source text (continuations joined) for messages. */
  text: string;
  words: string[];
  stdin?: string;
}

export class ScriptSyntaxError extends Error {
  override readonly name = 'ScriptSyntaxError';
  constructor(readonly line: number, message: string) { super(message); }
}

const UNSUPPORTED_PREFIX: Record<string, string> = {
  nfx: '"nfx" lines are not supported: write the command without "nfx" (the script runs on the host chosen with "nfx -n")',
  sudo: '"sudo" is not supported: write the command itself',
  doas: '"doas" is not supported: write the command itself',
  iptables: '"iptables" is not supported: nfx speaks nft',
  ip6tables: '"ip6tables" is not supported: nfx speaks nft',
};

/** Splits a script into commands with their here-documents. */
export function parseScript(text: string): ScriptLine[] {
  const raw = text.split('\n');
  const out: ScriptLine[] = [];
  for (let i = 0; i < raw.length; i++) {
    const start = i + 1;
    let logical = raw[i]!;
    // `\` at the end of a line joins the next one (outside single quotes, which we
    // do not let span lines).
    while (/(^|[^\\])(\\\\)*\\$/.test(logical) && i + 1 < raw.length) {
      logical = logical.slice(0, -1) + raw[++i]!;
    }
    const { words, heredoc } = splitWords(logical, start);
    if (words.length === 0) continue;
    const cmd: ScriptLine = { line: start, text: logical.trim(), words };
    if (heredoc) {
      const body: string[] = [];
      let closed = false;
      while (i + 1 < raw.length) {
        let l = raw[++i]!;
        if (heredoc.stripTabs) l = l.replace(/^\t+/, '');
        if (l === heredoc.delim) { closed = true; break; }
        body.push(l);
      }
      if (!closed) throw new ScriptSyntaxError(start, `here-document delimited by "${heredoc.delim}" is not closed`);
      cmd.stdin = body.length ? body.join('\n') + '\n' : '';
    }
    out.push(cmd);
  }
  return out;
}

interface Heredoc { delim: string; stripTabs: boolean }

function splitWords(s: string, line: number): { words: string[]; heredoc?: Heredoc } {
  const words: string[] = [];
  let heredoc: Heredoc | undefined;
  let i = 0;
  const n = s.length;
  while (i < n) {
    while (i < n && (s[i] === ' ' || s[i] === '\t' || s[i] === '\r')) i++;
    if (i >= n) break;
    if (s[i] === '#') break;
    if (s.startsWith('<<', i)) {
      if (heredoc) throw new ScriptSyntaxError(line, 'only one here-document per line is supported');
      i += 2;
      const stripTabs = s[i] === '-';
      if (stripTabs) i++;
      while (s[i] === ' ') i++;
      const w = readWord(s, i, line);
      if (w.word === '') throw new ScriptSyntaxError(line, 'here-document needs a delimiter');
      heredoc = { delim: w.word, stripTabs };
      i = w.end;
      continue;
    }
    const c = s[i]!;
    if ('|;&<>()`'.includes(c)) {
      throw new ScriptSyntaxError(line, `shell syntax "${c}" is not supported: nfx runs each line itself, without a shell`);
    }
    const w = readWord(s, i, line);
    words.push(w.word);
    i = w.end;
  }
  return heredoc ? { words, heredoc } : { words };
}

function readWord(s: string, i: number, line: number): { word: string; end: number } {
  let w = '';
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\r') break;
    if ('|;&<>()`'.includes(c)) break;
    if (c === '$') throw new ScriptSyntaxError(line, 'shell expansion "$" is not supported: nfx runs each line itself, without a shell');
    if (c === "'") {
      const j = s.indexOf("'", i + 1);
      if (j < 0) throw new ScriptSyntaxError(line, 'unterminated single quote');
      w += s.slice(i + 1, j);
      i = j + 1;
      continue;
    }
    if (c === '"') {
      i++;
      for (;;) {
        if (i >= s.length) throw new ScriptSyntaxError(line, 'unterminated double quote');
        const d = s[i]!;
        if (d === '"') { i++; break; }
        if (d === '$' || d === '`') throw new ScriptSyntaxError(line, `shell expansion "${d}" is not supported: nfx runs each line itself, without a shell`);
        if (d === '\\' && i + 1 < s.length && '"\\$`'.includes(s[i + 1]!)) { w += s[i + 1]; i += 2; continue; }
        w += d;
        i++;
      }
      continue;
    }
    if (c === '\\' && i + 1 < s.length) { w += s[i + 1]; i += 2; continue; }
    w += c;
    i++;
  }
  return { word: w, end: i };
}

export interface RunScriptOptions {
  /** The script's name in messages (`FILE:LINE: ...`). */
  file: string;
  handlers: Map<string, ScriptHandler>;
  io: ScriptLineIo;
  readFile: (path: string) => string;
}

export interface RunScriptResult {
  /** 0 when every line succeeded; else the failing line's status (2 for a script syntax error). */
  status: number;
  /** The failing line, if any. */
  failedLine?: number;
  /** How many commands ran successfully. */
  ran: number;
}

/**
 * Runs the script against `host` (mutating it). Stops at the first failing line,
 * whose messages are prefixed with `FILE:LINE: `. The caller persists the host
 * only when `status` is 0.
 */
export async function runScript(host: Host, text: string, o: RunScriptOptions): Promise<RunScriptResult> {
  let lines: ScriptLine[];
  try {
    lines = parseScript(text);
  } catch (e) {
    if (!(e instanceof ScriptSyntaxError)) throw e;
    o.io.err(`${o.file}:${e.line}: ${e.message}\n`);
    return { status: 2, failedLine: e.line, ran: 0 };
  }
  let ran = 0;
  for (const l of lines) {
    const failWith = (status: number, message: string): RunScriptResult => {
      o.io.err(`${o.file}:${l.line}: ${message}\n`);
      return { status, failedLine: l.line, ran };
    };
    const name = l.words[0]!;
    if (name === 'ip' && l.words[1] === 'netns' && l.words[2] === 'exec') {
      return failWith(2, '"ip netns exec" is not supported: the script runs on the host chosen with "nfx -n NETNS run"');
    }
    if (UNSUPPORTED_PREFIX[name]) return failWith(2, UNSUPPORTED_PREFIX[name]!);
    const handler = o.handlers.get(name);
    if (!handler) {
      const known = [...o.handlers.keys()].join(', ');
      return failWith(2, `"${name}" is not supported here (lines must start with one of: ${known})`);
    }
    let errText = '';
    const env: ScriptEnv = {
      host, file: o.file, line: l.line, readFile: o.readFile,
      io: { out: o.io.out, err: (t) => { errText += t; } },
    };
    if (l.stdin !== undefined) env.stdin = l.stdin;
    const status = await handler(l.words.slice(1), env);
    if (status !== 0) {
      const msg = errText.replace(/\n$/, '') || `"${l.text}" failed with status ${status}`;
      o.io.err(msg.split('\n').map((m) => `${o.file}:${l.line}: ${m}`).join('\n') + '\n');
      return { status, failedLine: l.line, ran };
    }
    if (errText) o.io.err(errText);
    ran++;
  }
  return { status: 0, ran };
}
