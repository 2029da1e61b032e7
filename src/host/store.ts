/**
 * Named virtual hosts on disk: `$NFX_HOME/netns/NAME.json`, written atomically
 * (a temporary file in the same directory, fsync, rename over the old file, fsync
 * of the directory) so a crash leaves either the old host or the new one.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatAddr, formatMac, parseAddr, parseMac } from './inet.js';
import { HostError } from './errors.js';
import { newHost } from './model.js';
import type { Host, IfAddr, Link, Neigh, Route, Rule } from './types.js';

/** What `loadHost`/`saveHost` need: `$NFX_HOME` and the host name (CliContext has both). */
export interface StoreContext { home: string; netns: string }

export const FORMAT_VERSION = 1;

export function hostPath(ctx: StoreContext, name = ctx.netns): string {
  return join(ctx.home, 'netns', `${name}.json`);
}

export function validHostName(name: string): boolean {
  return /^[A-Za-z0-9_.-]+$/.test(name) && !name.startsWith('.') && name.length <= 255;
}

/** The saved form: addresses as text, so the file reads like `ip` output. */
export function hostToJson(host: Host): Record<string, unknown> {
  const a = (x: Uint8Array | undefined): string | undefined => x && formatAddr(x);
  return {
    version: FORMAT_VERSION,
    name: host.name,
    nextIndex: host.nextIndex,
    seq: host.seq,
    customRules4: host.customRules4,
    rulesInUse: host.rulesInUse,
    tables: host.tables,
    links: host.links.map((l) => ({ ...l, mac: formatMac(l.mac) })),
    addrs: host.addrs.map((x) => ({ ...x, local: a(x.local), peer: a(x.peer), broadcast: a(x.broadcast) })),
    routes: host.routes.map((r) => ({ ...r, dst: a(r.dst), gateway: a(r.gateway), prefsrc: a(r.prefsrc) })),
    rules: host.rules.map((r) => ({ ...r, src: a(r.src), dst: a(r.dst) })),
    neighs: host.neighs.map((n) => ({ ...n, dst: a(n.dst), lladdr: n.lladdr && formatMac(n.lladdr) })),
    sysctl: Object.fromEntries(host.sysctl),
    sysctlExplicit: [...host.sysctlExplicit],
    sections: host.sections,
  };
}

export function hostFromJson(o: Record<string, unknown>): Host {
  if (o['version'] !== FORMAT_VERSION) throw new HostError(`nfx: unsupported host file version ${String(o['version'])}`, 1);
  const ad = (x: unknown): Uint8Array | undefined => (typeof x === 'string' ? parseAddr(x) ?? undefined : undefined);
  const strip = <T extends object>(x: T): T => {
    for (const k of Object.keys(x)) if ((x as Record<string, unknown>)[k] === undefined || (x as Record<string, unknown>)[k] === null) delete (x as Record<string, unknown>)[k];
    return x;
  };
  type J = Record<string, unknown>;
  const host = newHost(String(o['name']));
  host.nextIndex = Number(o['nextIndex']);
  host.seq = Number(o['seq']);
  host.customRules4 = Boolean(o['customRules4']);
  host.tables = o['tables'] as Host['tables'];
  host.rulesInUse = (o['rulesInUse'] as Host['rulesInUse']) ?? { 4: false, 6: false };
  host.links = (o['links'] as J[]).map((l) => strip({ ...l, mac: parseMac(String(l['mac']))! }) as unknown as Link);
  host.addrs = (o['addrs'] as J[]).map((x) => strip({ ...x, local: ad(x['local'])!, peer: ad(x['peer']), broadcast: ad(x['broadcast']) }) as unknown as IfAddr);
  host.routes = (o['routes'] as J[]).map((r) => strip({ ...r, dst: ad(r['dst'])!, gateway: ad(r['gateway']), prefsrc: ad(r['prefsrc']) }) as unknown as Route);
  host.rules = (o['rules'] as J[]).map((r) => strip({ ...r, src: ad(r['src']), dst: ad(r['dst']) }) as unknown as Rule);
  host.neighs = (o['neighs'] as J[]).map((n) => strip({ ...n, dst: ad(n['dst'])!, lladdr: typeof n['lladdr'] === 'string' ? parseMac(n['lladdr']) : undefined }) as unknown as Neigh);
  host.sysctl = new Map(Object.entries(o['sysctl'] as Record<string, string>));
  host.sysctlExplicit = new Set(o['sysctlExplicit'] as string[]);
  host.sections = (o['sections'] as Record<string, unknown>) ?? {};
  return host;
}

export function hostExists(ctx: StoreContext, name = ctx.netns): boolean {
  return existsSync(hostPath(ctx, name));
}

/**
 * Loads the host named by `ctx.netns`. The `default` host springs into being on
 * first use; another name must have been made with `nfx netns add`.
 */
export function loadHost(ctx: StoreContext): Host {
  const path = hostPath(ctx);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (ctx.netns === 'default') return newHost('default');
    throw new HostError(`Cannot open network namespace "${ctx.netns}": No such file or directory`, 1);
  }
  return hostFromJson(JSON.parse(text) as Record<string, unknown>);
}

/** Writes the host atomically: temp file, fsync, rename, fsync of the directory. */
export function saveHost(ctx: StoreContext, host: Host): void {
  writeAtomic(hostPath(ctx, host.name), JSON.stringify(hostToJson(host), null, 1) + '\n');
}

export function writeAtomic(path: string, text: string): void {
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  try {
    const dfd = openSync(dir, 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* some filesystems cannot fsync a directory; the rename is still atomic */ }
}

export function listHosts(ctx: StoreContext): string[] {
  let names: string[];
  try {
    names = readdirSync(join(ctx.home, 'netns'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).sort();
}

export function addHost(ctx: StoreContext, name: string): void {
  if (!validHostName(name)) throw new HostError(`Invalid netns name "${name}"`, 1);
  if (hostExists(ctx, name)) throw new HostError(`Cannot create namespace file "${hostPath(ctx, name)}": File exists`, 1);
  saveHost(ctx, newHost(name));
}

export function delHost(ctx: StoreContext, name: string): void {
  if (!hostExists(ctx, name)) throw new HostError(`Cannot remove namespace file "${hostPath(ctx, name)}": No such file or directory`, 1);
  rmSync(hostPath(ctx, name));
}
