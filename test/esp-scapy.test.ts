/**
 * Differential tests against implementations we did not write: scapy 2.5's
 * SecurityAssociation (one /usr/bin/python3 process fed every case as JSON)
 * and tshark 4.0's ESP dissector (one run over a pcap with an esp_sa UAT).
 *
 * For 240 random SAs (every algorithm scapy supports, random keys,
 * transport/tunnel, v4/v6 inside and out, ESN on/off, UDP encapsulation,
 * sequence numbers near 2^32) and random inner packets:
 *  - ESP from nfx is decrypted and authenticated by scapy into our inner packet;
 *  - ESP from scapy is accepted by nfx and yields the same inner packet;
 *  - nfx drops replays, tampered ICVs, bad pad lengths and left-of-window
 *    packets with the right counter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packet } from '../src/packet/packet.js';
import { internetChecksum } from '../src/packet/checksum.js';
import { createEspSa, espInput, espOutput } from '../src/xfrm/esp/index.js';
import type { EspSaConfig, EspInputResult } from '../src/xfrm/esp/index.js';
import { mulberry32Float as rng } from '../src/netfilter/random.js';

const PY = '/usr/bin/python3';
const FIXTURE = new URL('../../test/fixtures/esp_scapy.py', import.meta.url).pathname;
const hasScapy = existsSync(PY) && spawnSync(PY, ['-c', 'import scapy.layers.ipsec'], { stdio: 'ignore' }).status === 0;
const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fromHex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const TWO32 = 2 ** 32;


interface Algo {
  crypt: string;
  icv?: number;
  keyLens: number[];
  auth: string;
  authKeyLen: number;
  nfx: (ek: Uint8Array, ak: Uint8Array) => Partial<EspSaConfig>;
  tshark?: { enc: string; auth: string };
}

const AUTHS: Record<string, { nfx: string; bits: number; keyLen: number; tshark?: string }> = {
  'HMAC-SHA1-96': { nfx: 'hmac(sha1)', bits: 96, keyLen: 20, tshark: 'HMAC-SHA-1-96 [RFC2404]' },
  'SHA2-256-128': { nfx: 'hmac(sha256)', bits: 128, keyLen: 32, tshark: 'HMAC-SHA-256-128 [RFC4868]' },
  'SHA2-384-192': { nfx: 'hmac(sha384)', bits: 192, keyLen: 48, tshark: 'HMAC-SHA-384-192 [RFC4868]' },
  'SHA2-512-256': { nfx: 'hmac(sha512)', bits: 256, keyLen: 64, tshark: 'HMAC-SHA-512-256 [RFC4868]' },
  'HMAC-MD5-96': { nfx: 'hmac(md5)', bits: 96, keyLen: 16, tshark: 'HMAC-MD5-96 [RFC2403]' },
  'AES-CMAC-96': { nfx: 'cmac(aes)', bits: 96, keyLen: 16 },
  NULL: { nfx: 'digest_null', bits: 0, keyLen: 0, tshark: 'NULL' },
};

function algorithms(): Algo[] {
  const out: Algo[] = [];
  for (const icv of [8, 12, 16]) {
    out.push({ crypt: 'AES-GCM', icv, keyLens: [20, 28, 36], auth: 'NULL', authKeyLen: 0, nfx: (k) => ({ aead: { name: 'rfc4106(gcm(aes))', key: k, icvBits: icv * 8 } }), tshark: { enc: `AES-GCM with ${icv} octet ICV [RFC4106]`, auth: 'NULL' } });
    out.push({ crypt: 'AES-CCM', icv, keyLens: [19, 27, 35], auth: 'NULL', authKeyLen: 0, nfx: (k) => ({ aead: { name: 'rfc4309(ccm(aes))', key: k, icvBits: icv * 8 } }) });
  }
  out.push({ crypt: 'CHACHA20-POLY1305', keyLens: [36], auth: 'NULL', authKeyLen: 0, nfx: (k) => ({ aead: { name: 'rfc7539esp(chacha20,poly1305)', key: k, icvBits: 128 } }) });
  const encs: [string, number[], string, string][] = [
    ['AES-CBC', [16, 24, 32], 'cbc(aes)', 'AES-CBC [RFC3602]'],
    ['AES-CTR', [20, 28, 36], 'rfc3686(ctr(aes))', 'AES-CTR [RFC3686]'],
    ['NULL', [0], 'cipher_null', 'NULL'],
  ];
  for (const [crypt, keyLens, nfxEnc, tsEnc] of encs) {
    for (const [auth, a] of Object.entries(AUTHS)) {
      if (crypt === 'NULL' && auth === 'NULL') continue;
      out.push({
        crypt, keyLens, auth, authKeyLen: a.keyLen,
        nfx: (ek, ak) => ({ enc: { name: nfxEnc, key: ek }, auth: { name: a.nfx, key: ak, truncBits: a.bits } }),
        ...(a.tshark ? { tshark: { enc: tsEnc, auth: a.tshark } } : {}),
      });
    }
  }
  return out;
}

function randBytes(r: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

const V4 = (r: () => number, net: number): string => `10.${net}.${Math.floor(r() * 250)}.${1 + Math.floor(r() * 250)}`;
const V6 = (r: () => number, net: number): string => `2001:db8:${net.toString(16)}::${(1 + Math.floor(r() * 65000)).toString(16)}`;

function addrBytes(a: string): number[] {
  if (!a.includes(':')) return a.split('.').map(Number);
  const [h, t] = a.split('::') as [string, string];
  const hg = h.split(':').filter(Boolean);
  const tg = t.split(':').filter(Boolean);
  const g = [...hg, ...Array(8 - hg.length - tg.length).fill('0'), ...tg].map((x) => parseInt(x, 16));
  return g.flatMap((x) => [x >> 8, x & 255]);
}

/** A random UDP packet between `src` and `dst`. */
function innerPacket(r: () => number, src: string, dst: string, maxPayload = 300): Uint8Array {
  const v6 = src.includes(':');
  const plen = Math.floor(r() * maxPayload);
  const hl = v6 ? 40 : 20;
  const p = new Uint8Array(hl + 8 + plen);
  const tos = Math.floor(r() * 64) << 2; // DSCP only: scapy's outer header carries no ECN
  if (v6) {
    p[0] = 0x60 | (tos >> 4);
    p[1] = (tos & 15) << 4;
    p[4] = (8 + plen) >> 8;
    p[5] = (8 + plen) & 255;
    p[6] = 17;
    p[7] = 64;
    p.set(addrBytes(src), 8);
    p.set(addrBytes(dst), 24);
  } else {
    p.set([0x45, tos, p.length >> 8, p.length & 255, Math.floor(r() * 256), 1, 0x40, 0, 64, 17, 0, 0]);
    p.set(addrBytes(src), 12);
    p.set(addrBytes(dst), 16);
    const c = internetChecksum(p, 0, 20);
    p[10] = c >> 8;
    p[11] = c & 255;
  }
  // Ports 40000 → 40001: no dissector claims them, so a random payload cannot
  // make tshark abort the ESP tree before the trailer (as DNS on 53 would).
  p.set([0x9c, 0x40, 0x9c, 0x41, (8 + plen) >> 8, (8 + plen) & 255, 0, 0], hl);
  p.set(randBytes(r, plen), hl + 8);
  return p;
}

interface SaCase {
  id: number;
  algo: Algo;
  cfg: EspSaConfig;
  scapy: Record<string, unknown>;
  esn: boolean;
  mode: 'tunnel' | 'transport';
  innerSrc: string;
  innerDst: string;
  /** First outbound / inbound sequence numbers as 64-bit values. */
  out64: number;
  in64: number;
}

function makeCases(n: number, seed: number): SaCase[] {
  const r = rng(seed);
  const algos = algorithms();
  const cases: SaCase[] = [];
  for (let id = 0; id < n; id++) {
    const algo = algos[id % algos.length]!;
    const ek = randBytes(r, algo.keyLens[Math.floor(r() * algo.keyLens.length)]!);
    const ak = randBytes(r, algo.authKeyLen);
    const mode = r() < 0.5 ? 'tunnel' : 'transport';
    const outer6 = r() < 0.5;
    const inner6 = mode === 'transport' ? outer6 : r() < 0.5;
    const esn = r() < 0.5;
    const encap = r() < 0.3;
    const spi = 0x10000 + id;
    const saddr = outer6 ? V6(r, 1) : V4(r, 1);
    const daddr = outer6 ? V6(r, 2) : V4(r, 2);
    const innerSrc = mode === 'transport' ? saddr : inner6 ? V6(r, 3) : V4(r, 3);
    const innerDst = mode === 'transport' ? daddr : inner6 ? V6(r, 4) : V4(r, 4);
    // Sequence numbers: near the 2^32 wrap (with ESN, across it), or anywhere.
    const hi = esn ? Math.floor(r() * 4) : 0;
    const pick = (): number => {
      const near = r() < 0.6;
      if (esn) return hi * TWO32 + (near ? TWO32 - 1 - Math.floor(r() * 2) : 300 + Math.floor(r() * 2 ** 31));
      return near ? TWO32 - 3 - Math.floor(r() * 3) : 300 + Math.floor(r() * 2 ** 31);
    };
    const cfg = {
      spi, saddr, daddr, mode, ...algo.nfx(ek, ak),
      flags: esn ? ['esn'] : [],
      ...(encap ? { encap: { sport: 4500, dport: 4500 } } : {}),
      ...(mode === 'tunnel' ? { sel: { saddr: innerSrc, daddr: innerDst } } : {}),
    } as EspSaConfig;
    const scapy = {
      spi, mode, crypt_algo: algo.crypt, crypt_key: toHex(ek), crypt_icv_size: algo.icv ?? null,
      auth_algo: algo.auth, auth_key: toHex(ak), tunnel_src: saddr, tunnel_dst: daddr,
      nat_t: encap ? [4500, 4500] : null, esn,
    };
    cases.push({ id, algo, cfg, scapy, esn, mode, innerSrc, innerDst, out64: pick(), in64: pick() });
  }
  return cases;
}

const split = (s64: number): { seq: number; hi: number } => ({ seq: s64 % TWO32, hi: Math.floor(s64 / TWO32) });

function verdict(r: EspInputResult): string {
  return r.ok ? 'accepted' : `${r.counter} (${r.detail})`;
}

const N_SA = 240;

test(`scapy differential: ${N_SA} random SAs, both directions, and drops`, { skip: !hasScapy && 'scapy not installed for /usr/bin/python3 (apt-get install python3-scapy)' }, async (t) => {
  const cases = makeCases(N_SA, 0x5eed);
  const r = rng(42);
  const py: Record<string, unknown>[] = [];
  const checks: ((res: any[]) => void)[] = [];
  const tsharkRows: { pkt: Uint8Array; sa: SaCase; nh: number; padLen: number; payload: string }[] = [];
  let nfxToScapy = 0;

  for (const c of cases) {
    // nfx → scapy: two packets from nfx's output counter.
    const tx = createEspSa(c.cfg);
    const o = split(c.out64 - 1);
    tx.replay.oseq = o.seq;
    tx.replay.oseqHi = o.hi;
    for (let k = 0; k < 2; k++) {
      const inner = innerPacket(r, c.innerSrc, c.innerDst);
      const pkt = Packet.from(inner);
      const res = espOutput(tx, pkt);
      assert.ok(res.ok, `SA ${c.id}: ${JSON.stringify(res)}`);
      const wire = pkt.data.slice();
      const at = py.length;
      py.push({ op: 'decrypt', ...c.scapy, esn_hi: res.seqHi, packet: toHex(wire) });
      checks.push((out) => {
        assert.ok(out[at].ok, `SA ${c.id} (${c.algo.crypt}/${c.algo.auth} ${c.mode} esn=${c.esn}): scapy refused nfx's packet: ${out[at].error}`);
        assert.equal(out[at].inner, toHex(inner), `SA ${c.id}: scapy's inner packet`);
        nfxToScapy++;
      });
      if (c.algo.tshark) {
        // The next header nfx wrote: IP-in-IP for tunnel mode, the UDP of the inner packet otherwise.
        const nh = c.mode === 'tunnel' ? (inner[0]! >>> 4 === 4 ? 4 : 41) : 17;
        const payload = c.mode === 'tunnel' ? inner : inner.subarray(inner[0]! >>> 4 === 4 ? 20 : 40);
        const blk = c.algo.crypt === 'AES-CBC' ? 16 : 4;
        const padLen = (blk - ((payload.length + 2) % blk)) % blk;
        tsharkRows.push({ pkt: wire, sa: c, nh, padLen, payload: toHex(payload) });
      }
    }

    // scapy → nfx: two packets, a bad pad length, and one far left of the window.
    const inS = split(c.in64);
    const inner1 = innerPacket(r, c.innerSrc, c.innerDst);
    const inner2 = innerPacket(r, c.innerSrc, c.innerDst);
    // Short enough that a pad length of 250 cannot fit (esp_remove_trailer()'s check).
    const small = innerPacket(r, c.innerSrc, c.innerDst, 100);
    const second = split(c.in64 + 1);
    const third = split(c.in64 + 2);
    const old = split(c.in64 - 200);
    const base = py.length;
    py.push({ op: 'encrypt', ...c.scapy, seq: inS.seq, esn_hi: inS.hi, inner: toHex(inner1) });
    py.push({ op: 'encrypt', ...c.scapy, seq: second.seq, esn_hi: second.hi, inner: toHex(inner2) });
    py.push({ op: 'badpad', ...c.scapy, seq: third.seq, esn_hi: third.hi, inner: toHex(small) });
    py.push({ op: 'encrypt', ...c.scapy, seq: old.seq, esn_hi: old.hi, inner: toHex(inner1) });
    checks.push((out) => {
      for (let k = 0; k < 4; k++) assert.ok(out[base + k].ok, `SA ${c.id}: scapy encrypt failed: ${out[base + k].error}`);
      const prev = split(c.in64 - 1);
      const rx = createEspSa({ ...c.cfg, replayWindow: 64, replaySeq: prev.seq, replaySeqHi: prev.hi });
      const feed = (hex: string): [EspInputResult, Packet] => {
        const p = Packet.from(fromHex(hex));
        return [espInput(rx, p), p];
      };
      const [r1, p1] = feed(out[base].packet);
      assert.equal(verdict(r1), 'accepted', `SA ${c.id} first packet`);
      assert.equal(toHex(p1.data), toHex(inner1), `SA ${c.id}: nfx's inner packet`);
      const authed = c.algo.auth !== 'NULL' || c.algo.icv !== undefined || c.algo.crypt === 'CHACHA20-POLY1305';
      if (authed) {
        const bad = fromHex(out[base + 1].packet);
        bad[bad.length - 1]! ^= 0x40;
        const [rt] = feed(toHex(bad));
        assert.equal(verdict(rt), 'XfrmInStateProtoError (ICV mismatch)', `SA ${c.id} tampered ICV`);
      }
      const [r2, p2] = feed(out[base + 1].packet);
      assert.equal(verdict(r2), 'accepted', `SA ${c.id} second packet`);
      assert.equal(toHex(p2.data), toHex(inner2));
      const [r3] = feed(out[base].packet);
      assert.match(verdict(r3), /^XfrmInStateSeqError/, `SA ${c.id} replay`);
      const [r4] = feed(out[base + 2].packet);
      assert.equal(verdict(r4), 'XfrmInStateProtoError (pad length exceeds the payload)', `SA ${c.id} bad padding`);
      const [r5] = feed(out[base + 3].packet);
      // Left of the window: without ESN the window refuses it; with ESN Appendix A
      // takes it for the next subspace and the ICV refuses it (as Linux).
      if (!c.esn) assert.match(verdict(r5), /^XfrmInStateSeqError/, `SA ${c.id} left of window`);
      else if (authed) assert.equal(verdict(r5), 'XfrmInStateProtoError (ICV mismatch)', `SA ${c.id} left of window (ESN)`);
    });
  }

  // RFC 4543 GMAC: scapy and tshark lack it; python-cryptography's AESGCM checks our ICVs.
  let gmacChecked = 0;
  for (let g = 0; g < 24; g++) {
    const key = randBytes(r, [20, 28, 36][g % 3]!);
    const esn = g % 2 === 1;
    const cfg: EspSaConfig = { spi: 0x40000 + g, mode: 'tunnel', saddr: '192.0.2.1', daddr: '192.0.2.2', aead: { name: 'rfc4543(gcm(aes))', key, icvBits: 128 }, flags: esn ? ['esn'] : [] };
    const tx = createEspSa({ ...cfg, replayOseq: 0xfffffffe, replayOseqHi: esn ? g : 0 });
    const pkt = Packet.from(innerPacket(r, '10.9.0.1', '10.9.0.2'));
    const res = espOutput(tx, pkt);
    assert.ok(res.ok);
    const at = py.length;
    py.push({ op: 'gmac', key: toHex(key), esp: toHex(pkt.data.subarray(20)), esn, esn_hi: res.seqHi });
    checks.push((out) => {
      assert.ok(out[at].ok, `GMAC SA ${g}: python-cryptography refused our ICV: ${out[at].error}`);
      gmacChecked++;
    });
  }

  const run = spawnSync(PY, [FIXTURE], { input: JSON.stringify({ cases: py }), maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout).results;
  assert.equal(out.length, py.length);
  for (const check of checks) check(out);
  assert.equal(nfxToScapy, N_SA * 2);
  assert.equal(gmacChecked, 24);
  t.diagnostic(`scapy: ${nfxToScapy} nfx packets decrypted+authenticated by scapy, ${N_SA * 2} scapy packets accepted by nfx, ${N_SA * 4} drops checked; ${gmacChecked} rfc4543 GMAC ICVs verified by python-cryptography`);

  // tshark: one run over every nfx packet whose algorithm tshark 4.0 knows.
  await t.test('tshark 4.0 decrypts the same nfx packets', { skip: !hasTshark && 'tshark not installed (apt-get install tshark)' }, (t) => tshark(t, tsharkRows));
});

function tshark(t: { diagnostic(msg: string): void }, tsharkRows: { pkt: Uint8Array; sa: SaCase; nh: number; padLen: number; payload: string }[]): void {
  const dir = mkdtempSync(join(tmpdir(), 'nfx-esp-tshark-'));
  try {
    const uat = new Map<number, string>();
    const frames: Uint8Array[] = [];
    for (const row of tsharkRows) {
      frames.push(row.pkt);
      const sa = row.sa;
      const ek = sa.scapy.crypt_key as string;
      const ak = sa.scapy.auth_key as string;
      uat.set(sa.cfg.spi, `"${sa.cfg.saddr.includes(':') ? 'IPv6' : 'IPv4'}","*","*","0x${sa.cfg.spi.toString(16).padStart(8, '0')}","${sa.algo.tshark!.enc}","0x${ek}","${sa.algo.tshark!.auth}","${ak ? '0x' + ak : ''}"`);
    }
    writeFileSync(join(dir, 'esp_sa'), [...uat.values()].join('\n') + '\n');
    writeFileSync(join(dir, 'esp.pcap'), pcap(frames));
    const ts = spawnSync('tshark', ['-n', '-r', join(dir, 'esp.pcap'), '-o', 'esp.enable_encryption_decode:TRUE', '-o', 'esp.enable_authentication_check:TRUE',
      '-T', 'fields', '-E', 'occurrence=f', '-e', 'frame.number', '-e', 'esp.spi', '-e', 'esp.pad_len', '-e', 'esp.protocol', '-e', 'esp.icv_good', '-e', 'esp.contained_data'],
      { env: { ...process.env, WIRESHARK_CONFIG_DIR: dir }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    assert.equal(ts.status, 0, ts.stderr);
    const lines = ts.stdout.trim().split('\n');
    assert.equal(lines.length, tsharkRows.length);
    let decrypted = 0;
    let authenticated = 0;
    lines.forEach((line, i) => {
      const [, , pad, nh, good, data] = line.split('\t');
      const row = tsharkRows[i]!;
      const what = `tshark frame ${i + 1} (SA ${row.sa.id} ${row.sa.algo.crypt}/${row.sa.algo.auth})`;
      assert.equal(Number(nh), row.nh, `${what}: next header`);
      assert.equal(Number(pad), row.padLen, `${what}: pad length`);
      assert.equal(data, row.payload, `${what}: decrypted payload`);
      decrypted++;
      // tshark 4.0 has no ESN: with ESN it can decrypt but not authenticate.
      if (!row.sa.esn && (row.sa.algo.auth !== 'NULL' || row.sa.algo.icv)) {
        assert.equal(good, '1', `tshark frame ${i + 1} (SA ${row.sa.id}): ICV`);
        authenticated++;
      }
    });
    t.diagnostic(`tshark: ${decrypted} nfx packets decrypted to our payload with our pad length and next header, ${authenticated} ICVs verified (the rest: ESN, which tshark 4.0 cannot authenticate, or no ICV)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A classic pcap, LINKTYPE_RAW (101): each frame an IP packet. */
function pcap(frames: Uint8Array[]): Uint8Array {
  const parts: Buffer[] = [];
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(65535, 16);
  h.writeUInt32LE(101, 20);
  parts.push(h);
  frames.forEach((f, i) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(i, 0);
    r.writeUInt32LE(f.length, 8);
    r.writeUInt32LE(f.length, 12);
    parts.push(r, Buffer.from(f));
  });
  return Buffer.concat(parts);
}
