/**
 * The call list's 93 bytes of x86-64 are what call-list.ts's comment says
 * they are: objdump (binutils) disassembles them, and the instructions must
 * equal the listing in the comment, one for one, with the jumps landing on
 * the labels the listing names. Skips where objdump is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CALL_LIST_CODE } from '../src/xfrm/esp/call-list.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const source = path.resolve(here, '..', '..', 'src', 'xfrm', 'esp', 'call-list.ts');

/** One instruction in a common spelling: lower case, no size words, numbers in decimal, single spaces. */
function norm(ins: string): string {
  return ins.toLowerCase()
    .replace(/\b(qword|dword|word|byte) ptr /g, '')
    .replace(/0x([0-9a-f]+)/g, (_, h: string) => String(parseInt(h, 16)))
    .replace(/\s*,\s*/g, ',').replace(/\s+/g, ' ').trim();
}

/** The listing in the module comment: labels and instructions, in order. */
function listing(text: string): { ins: string[]; labels: Map<string, number> } {
  const start = text.indexOf('nfx_calls(entries, n)');
  const end = text.indexOf('pop r13; pop r12; pop rbx; ret', start);
  assert.ok(start > 0 && end > start, 'the listing is in the comment');
  const ins: string[] = [], labels = new Map<string, number>();
  for (const raw of text.slice(text.indexOf('\n', start) + 1, text.indexOf('\n', end)).split('\n')) {
    // A comment follows a run of spaces: `push rbx; push r12        ; why`.
    const line = raw.replace(/^\s*\*\s?/, '').replace(/\s{2,};.*$/, '').trim();
    if (!line) continue;
    const label = /^(\w+):$/.exec(line);
    if (label) { labels.set(label[1]!, ins.length); continue; }
    for (const part of line.split(';')) if (part.trim()) ins.push(norm(part));
  }
  return { ins, labels };
}

test('the call list routine disassembles to the listing in its comment', (t) => {
  if (spawnSync('objdump', ['--version']).status !== 0) { t.skip('objdump (binutils) not installed'); return; }
  const bin = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nfx-asm-')), 'code.bin');
  try {
    fs.writeFileSync(bin, Buffer.from(CALL_LIST_CODE, 'hex'));
    const r = spawnSync('objdump', ['-D', '-b', 'binary', '-m', 'i386:x86-64', '-M', 'intel', bin], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // "  2f:\tff 13                \tcall   QWORD PTR [rbx]"
    const dis = [...r.stdout.matchAll(/^\s*([0-9a-f]+):\t[0-9a-f ]+\t(.+)$/gm)].map((m) => ({ at: parseInt(m[1]!, 16), ins: m[2]!.trim() }));
    const want = listing(fs.readFileSync(source, 'utf8'));
    assert.equal(dis.length, want.ins.length, 'as many instructions as the listing has');
    const index = new Map(dis.map((d, i) => [d.at, i]));
    dis.forEach((d, i) => {
      const jump = /^(j\w+)\s+0x([0-9a-f]+)/.exec(d.ins);
      if (jump) {
        // A jump: the same mnemonic, and its target is the instruction the listing's label names.
        const [op, label] = want.ins[i]!.split(' ');
        assert.equal(jump[1], op, `instruction ${i}`);
        assert.equal(index.get(parseInt(jump[2]!, 16)), want.labels.get(label!), `instruction ${i}: ${d.ins} lands on ${label}`);
      } else {
        assert.equal(norm(d.ins), want.ins[i], `instruction ${i} at ${d.at}`);
      }
    });
    t.diagnostic(`call list: ${dis.length} instructions in ${CALL_LIST_CODE.length / 2} bytes match the listing`);
  } finally {
    fs.rmSync(path.dirname(bin), { recursive: true, force: true });
  }
});
