import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  backendCaveat,
  describeMachine,
  InvalidReportError,
  parseReport,
  type Report,
  redactUrl,
  renderHtml,
  renderMarkdown,
  renderMatrix,
  reportToJson,
  validateReport,
  writeReport,
} from './index.js';
import { renderBarChart } from './svg.js';
import { columnsOf, peerRows, ratioRows, summaryRows, testMatrix } from './view.js';

const ESC = '\x1b';
const CONSUL_CAVEAT = 'emulator (not verified against real Consul)';

/** The sample report with means on redis's lock.cycle and its floor (0.5 and 0.2 ms). */
function withMeans(report: Report): Report {
  const [memory, redis, consul] = report.backends;
  return {
    ...report,
    backends: [
      memory!,
      {
        ...redis!,
        bench: {
          ...redis!.bench,
          'lock.cycle': { p50: 0.4, p99: 1.2, mean: 0.5, unit: 'ms' },
          'floor.lock.cycle': { p50: 0.2, p99: 0.9, mean: 0.2, unit: 'ms' },
        },
      },
      consul!,
    ],
  };
}

function sampleReport(): Report {
  return {
    generatedAt: '2025-01-02T03:04:05.000Z',
    machine: {
      node: 'v20.11.1',
      platform: 'linux',
      arch: 'x64',
      cpus: 2,
      cpuModel: 'Test CPU <fast> & co',
      memGiB: 7.8,
    },
    backends: [
      {
        name: 'memory',
        url: 'memory://',
        source: 'embedded',
        capabilities: {
          lock: { fencing: 'monotonic', minTtlMs: 1 },
          counter: { supported: true, bounds: true },
        },
        tests: [
          { id: 'lock.exclusive', status: 'pass', ms: 120 },
          {
            id: 'lock.process-kill',
            status: 'skip',
            ms: 0,
            reason: 'in-process backend: no process to kill',
          },
          { id: 'counter.atomic', status: 'pass', ms: 80 },
        ],
        bench: {
          'lock.cycle': { p50: 0.004, p99: 0.02, unit: 'ms' },
          'counter.increment': { p50: 0.002, p99: 0.01, unit: 'ms' },
        },
        peers: {},
      },
      {
        name: 'redis',
        url: 'redis://app:s3cret@127.0.0.1:6379/0',
        source: 'binary',
        capabilities: {
          lock: { fencing: 'monotonic', minTtlMs: 10 },
          counter: { supported: true, bounds: true },
        },
        tests: [
          {
            id: 'lock.exclusive',
            status: 'fail',
            ms: 3000,
            reason: 'two holders at 12.5 ms: <b>c1</b> & c2',
          },
          { id: 'lock.process-kill', status: 'pass', ms: 900 },
          { id: 'counter.atomic', status: 'pass', ms: 150 },
          { id: 'lock.<weird>&id', status: 'pass', ms: 1 },
        ],
        bench: {
          'lock.cycle': { p50: 0.4, p99: 1.2, unit: 'ms' },
          'floor.lock.cycle': { p50: 0.2, p99: 0.9, unit: 'ms' },
          'lock.handoff': { p50: 0.9, p99: 3, mean: 1.1, unit: 'ms' },
          'lock.fairness': { value: 0.875, unit: 'ratio' },
          'counter.throughput64': { value: 40000, unit: 'ops/s' },
          'naive.counter.throughput64': { value: 10000, unit: 'ops/s' },
        },
        peers: {
          redlock4: { 'lock.cycle': { p50: 0.8, p99: 2.4, unit: 'ms' } },
          'evil<lib>&co': { 'lock.cycle': { p50: 0.5, p99: 1, unit: 'ms' } },
        },
      },
      {
        name: 'consul',
        url: 'consul://127.0.0.1:8500',
        source: 'emulator',
        capabilities: {
          lock: { fencing: 'monotonic', minTtlMs: 10_000 },
          counter: { supported: true, bounds: false },
        },
        tests: [
          { id: 'lock.exclusive', status: 'pass', ms: 2000 },
          {
            id: 'lock.process-kill',
            status: 'skip',
            ms: 0,
            reason: 'in-process backend: no process to kill',
          },
        ],
        bench: { 'lock.cycle': { p50: 2.5, p99: 9, unit: 'ms' } },
        peers: { consulLock: { 'lock.cycle': { p50: 5, p99: 10, unit: 'ms' } } },
      },
    ],
  };
}

describe('report.json', () => {
  it('round-trips through JSON and parseReport (credentials aside)', () => {
    const report = sampleReport();
    const parsed = parseReport(reportToJson(report));
    const expected = structuredClone(report) as unknown as { backends: Array<{ url: string }> };
    expected.backends[1]!.url = 'redis://app:***@127.0.0.1:6379/0';
    expect(parsed).toEqual(expected);
  });

  it('writes bigints as decimal strings', () => {
    const report = sampleReport() as Report<object>;
    const withBigint: Report<object> = {
      ...report,
      backends: [{ ...report.backends[0]!, capabilities: { lock: { firstToken: 9007199254740993n } } }],
    };
    const json = reportToJson(withBigint);
    expect(json).toContain('"firstToken": "9007199254740993"');
    expect(parseReport(json).backends[0]!.capabilities).toEqual({ lock: { firstToken: '9007199254740993' } });
  });

  it('rejects reports that do not match the schema, naming the field', () => {
    const cases: Array<[(r: Report) => unknown, RegExp]> = [
      [(r) => ({ ...r, generatedAt: 'yesterday' }), /^generatedAt/],
      [(r) => ({ ...r, backends: [{ ...r.backends[0]!, name: 'mongo' }] }), /backends\[0\]\.name/],
      [(r) => ({ ...r, backends: [{ ...r.backends[0]!, source: 'cloud' }] }), /backends\[0\]\.source/],
      [
        (r) => ({ ...r, backends: [{ ...r.backends[0]!, tests: [{ id: 'x', status: 'ok', ms: 1 }] }] }),
        /tests\[0\]\.status/,
      ],
      [
        (r) => ({
          ...r,
          backends: [{ ...r.backends[0]!, bench: { 'lock.cycle': { p50: Number.NaN, p99: 1, unit: 'ms' } } }],
        }),
        /bench\["lock\.cycle"\]/,
      ],
      [
        (r) => ({
          ...r,
          backends: [{ ...r.backends[0]!, peers: { x: { m: { value: 1, unit: 'furlongs' } } } }],
        }),
        /peers/,
      ],
      [(r) => ({ ...r, machine: { ...r.machine, cpus: '2' } }), /machine\.cpus/],
    ];
    for (const [mutate, path] of cases) {
      expect(() => validateReport(mutate(sampleReport()))).toThrow(InvalidReportError);
      expect(() => validateReport(mutate(sampleReport()))).toThrow(path);
    }
    expect(() => parseReport('{not json')).toThrow(InvalidReportError);
  });

  it('describes this machine in a valid way', () => {
    const machine = describeMachine();
    expect(machine.cpus).toBeGreaterThan(0);
    expect(machine.node).toBe(process.version);
    expect(() => validateReport({ ...sampleReport(), machine })).not.toThrow();
  });
});

describe('redactUrl', () => {
  it('hides passwords and secret query parameters, keeping the rest', () => {
    expect(redactUrl('postgres://user:p%40ss@db:5432/app?sslmode=require')).toBe(
      'postgres://user:***@db:5432/app?sslmode=require',
    );
    expect(redactUrl('redis://:onlypass@h:6379')).toBe('redis://:***@h:6379');
    expect(redactUrl('consul://h:8500?token=abc&dc=eu')).toBe('consul://h:8500?token=***&dc=eu');
    expect(redactUrl('redlock://h1:6379,h2:6380,h3:6381')).toBe('redlock://h1:6379,h2:6380,h3:6381');
    expect(redactUrl('etcd://user@h:2379')).toBe('etcd://user@h:2379');
  });
});

describe('the view model', () => {
  it('labels emulator columns with the caveat and disambiguates repeated names', () => {
    expect(backendCaveat({ name: 'consul', source: 'emulator' })).toBe(CONSUL_CAVEAT);
    expect(backendCaveat({ name: 'consul', source: 'env' })).toBeUndefined();
    const report = sampleReport();
    const twice: Report = {
      ...report,
      backends: [report.backends[1]!, { ...report.backends[1]!, source: 'env' }],
    };
    expect(columnsOf(twice).map((c) => c.label)).toEqual(['redis [binary]', 'redis [env]']);
    expect(columnsOf(report)[2]!.heading).toBe(`consul — ${CONSUL_CAVEAT}`);
  });

  it('orders tests as the suite does and shares footnotes between identical reasons', () => {
    const matrix = testMatrix(sampleReport());
    expect(matrix.rows.map((row) => row.id)).toEqual([
      'lock.exclusive',
      'lock.process-kill',
      'counter.atomic',
      'lock.<weird>&id',
    ]);
    expect(matrix.footnotes.map((note) => note.number)).toEqual([1, 2]);
    const kill = matrix.rows[1]!.cells;
    expect(kill[0]!.note).toBe(kill[2]!.note);
    expect(matrix.rows[2]!.cells[2]).toEqual({ status: 'missing' });
    expect(matrix.totals[1]).toEqual({ pass: 3, fail: 1, skip: 0, ms: 4051 });
  });

  it('computes lockstep ÷ baseline and lockstep ÷ peer ratios', () => {
    const ratios = ratioRows(sampleReport());
    expect(ratios.map((r) => [r.metric, r.baseline, r.better, r.values])).toEqual([
      ['lock.cycle', 'floor.lock.cycle', 'lower', [undefined, { headline: 2 }, undefined]],
      [
        'counter.throughput64',
        'naive.counter.throughput64',
        'higher',
        [undefined, { headline: 4 }, undefined],
      ],
    ]);
    const peers = peerRows(sampleReport());
    expect(peers.map((p) => [p.library, p.column.label, p.ratio])).toEqual([
      ['redlock4', 'redis', { headline: 0.5 }],
      ['evil<lib>&co', 'redis', { headline: 0.8 }],
      ['consulLock', 'consul', { headline: 0.5 }],
    ]);
  });

  it('gives ratios on the mean beside the p50 when both figures carry a mean', () => {
    const report = withMeans(sampleReport());
    const cycle = ratioRows(report).find((r) => r.metric === 'lock.cycle')!;
    expect(cycle.values[1]).toEqual({ headline: 2, mean: 2.5 });
    const md = renderMarkdown(report);
    expect(md).toContain('p50 2.00× · mean 2.50×');
    expect(md).toContain('| `lock.cycle` | 0.004 / 0.020 ms | 0.400 / 0.500 / 1.20 ms |');
  });
});

describe('renderMarkdown', () => {
  const md = renderMarkdown(sampleReport());

  it('contains the matrix rows with footnoted reasons', () => {
    const header = md.split('\n').find((line) => line.startsWith('| test |'))!;
    expect(header).toContain(`consul — ${CONSUL_CAVEAT}`);
    expect(md).toContain('| `lock.exclusive` | ✓ | ✗ [^1] | ✓ |');
    expect(md).toContain('| `lock.process-kill` | skip [^2] | ✓ | skip [^2] |');
    expect(md).toContain('| `counter.atomic` | ✓ | ✓ | — |');
    expect(md).toMatch(/^\[\^1\]: two holders at 12\.5 ms: \\<b\\>c1\\<\/b\\> \\& c2$/m);
    expect(md).toMatch(/^\[\^2\]: in-process backend: no process to kill$/m);
  });

  it('has capability, bench, ratio and peer tables', () => {
    expect(md).toContain('| `lock.fencing` | monotonic | monotonic | monotonic |');
    expect(md).toContain('| `counter.bounds` | yes | yes | no |');
    expect(md).toContain('| `lock.cycle` | 0.004 / 0.020 ms | 0.400 / 1.20 ms | 2.50 / 9.00 ms |');
    expect(md).toContain('| `counter.throughput64` | — | 40,000 ops/s | — |');
    expect(md).toContain('2.00×');
    expect(md).toMatch(
      /\| redlock4 \| redis \| `lock\.cycle` \| 0\.800 \/ 2\.40 ms \| 0\.400 \/ 1\.20 ms \| 0\.50×/,
    );
  });

  it('labels the emulator wherever its figures appear', () => {
    for (const section of [
      '## Backends',
      '## Conformance',
      '## Capabilities',
      '## Benchmarks',
      '## Peer libraries',
    ]) {
      const start = md.indexOf(section);
      const end = md.indexOf('\n## ', start + 1);
      expect(md.slice(start, end === -1 ? undefined : end), section).toContain(CONSUL_CAVEAT);
    }
  });

  it('escapes names and never leaks the password', () => {
    expect(md).toContain('evil\\<lib\\>\\&co');
    expect(md).not.toContain('<lib>');
    expect(md).not.toContain('s3cret');
  });
});

describe('renderHtml', () => {
  const html = renderHtml(sampleReport());

  it('is a self-contained document with balanced tags', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(http/i);
    // The only address is the SVG namespace, an identifier rather than a request.
    for (const address of html.match(/https?:\/\/[^"\s<]*/g) ?? [])
      expect(address).toBe('http://www.w3.org/2000/svg');
    expect(unbalancedTags(html)).toEqual([]);
  });

  it('draws the cycle-ratio chart and one SVG chart per lockstep metric, with baselines and peers in it', () => {
    // lock.cycle ÷ floor, then lock.cycle (with floor and peers), lock.handoff, counter.increment,
    // lock.fairness, counter.throughput64 (with naive).
    expect(html.match(/<svg\b/g)).toHaveLength(6);
    const lockCycle = html.slice(html.indexOf('<title>lock.cycle</title>'));
    const chart = lockCycle.slice(0, lockCycle.indexOf('</svg>'));
    expect(chart).toContain('redis · floor');
    expect(chart).toContain('redis · redlock4');
    expect(chart).toContain(`consul — ${CONSUL_CAVEAT}`);
    expect(chart).toMatch(/fill="url\(#chart-\d+-hatch\)"/);
    expect(chart).toMatch(/class="whisker"/);
  });

  it('escapes names with <>& everywhere and labels the emulator', () => {
    expect(html).toContain('evil&lt;lib&gt;&amp;co');
    expect(html).not.toContain('evil<lib>');
    expect(html).toContain('lock.&lt;weird&gt;&amp;id');
    expect(html).toContain('&lt;b&gt;c1&lt;/b&gt; &amp; c2');
    expect(html).toContain('Test CPU &lt;fast&gt; &amp; co');
    expect(html).not.toContain('s3cret');
    expect(html.split(CONSUL_CAVEAT).length - 1).toBeGreaterThanOrEqual(6);
  });
});

describe('what a reader needs beside the figures', () => {
  /** The sample with versions, load, a missing metric, a run that ended early and its data removed. */
  function annotated(): Report {
    const report = withMeans(sampleReport());
    const [memory, redis, consul] = report.backends;
    return {
      ...report,
      lockstep: { version: '0.1.0', commit: '0123456789abcdef0123456789abcdef01234567' },
      backends: [
        { ...memory!, error: 'the run crashed: Error: terminating connection (57P01)' },
        {
          ...redis!,
          serverVersion: 'Redis 7.0.15',
          load: { start: [0.52, 0.4, 0.3], end: [1.31, 0.6, 0.35] },
          missing: [
            {
              metric: 'lock.handoff',
              library: 'redlock4',
              reason: 'no handoff between contenders in 3 grants',
            },
          ],
          scratch: { prefix: 'lockstep-compare/1a2b3c4d', removed: true },
        },
        { ...consul!, serverVersion: '1.20.0 (lockstep emulator)' },
      ],
    };
  }

  it('starts with a summary per backend: suite, fencing, cycle ratio on p50 and mean, handoff, counters', () => {
    const summary = summaryRows(annotated());
    expect(summary.map((row) => [row.column.label, row.suite, row.ok, row.fencing])).toEqual([
      ['memory', '2 pass · 1 skip · ended early', false, 'monotonic'],
      ['redis', '3 pass · 1 fail', false, 'monotonic'],
      ['consul', '1 pass · 1 skip', true, 'monotonic'],
    ]);
    expect(summary[1]!.cycle).toEqual({ headline: 2, mean: 2.5 });
    expect(summary[1]!.handoff).toBe('0.900 / 1.10 / 3.00 ms, fairness 0.88');
    expect(summary[1]!.counters).toBe('yes, bounded, 40,000 ops/s (64 callers)');
    const md = renderMarkdown(annotated());
    expect(md.indexOf('## Summary')).toBeGreaterThan(0);
    expect(md.indexOf('## Summary')).toBeLessThan(md.indexOf('## Conformance'));
    const html = renderHtml(annotated());
    expect(html.indexOf('<h2>Summary</h2>')).toBeLessThan(html.indexOf('<h2>Conformance</h2>'));
  });

  it('records lockstep version and commit, server versions, load, and why a metric is missing', () => {
    const report = annotated();
    const parsed = parseReport(reportToJson(report));
    expect(parsed.lockstep).toEqual(report.lockstep);
    expect(parsed.backends[1]!.missing).toEqual(report.backends[1]!.missing);
    for (const text of [renderMarkdown(report), renderHtml(report)]) {
      expect(text).toContain('0123456789abcdef0123456789abcdef01234567');
      expect(text).toContain('Redis 7.0.15');
      expect(text).toContain('0.52 → 1.31');
      expect(text).toContain('no handoff between contenders in 3 grants');
      expect(text).toContain('removed');
      expect(text).toMatch(/loopback latency changes with its load/);
    }
  });

  it('shows a run that ended early, in every rendering', () => {
    const report = annotated();
    expect(renderMarkdown(report)).toContain('## Runs that ended early');
    expect(renderHtml(report)).toContain('terminating connection (57P01)');
    expect(renderMatrix(report, { color: false })).toContain('! memory ended early: the run crashed');
    expect(() => validateReport({ ...report, backends: [{ ...report.backends[0]!, error: 42 }] })).toThrow(
      /backends\[0\]\.error/,
    );
  });
});

describe('charts', () => {
  /** Rendered widths of a chart's bars, in order. */
  const barWidths = (svg: string) =>
    [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));

  it('keep a small p50 readable next to a large p99 (logarithmic axis, one tick per power of ten)', () => {
    const svg = renderBarChart(
      {
        title: 'lock.cycle',
        subtitle: 'ms',
        bars: [
          { label: 'memory', value: 0.004, whisker: 0.02, marker: 0.005, valueText: '', kind: 'lockstep' },
          { label: 'redis', value: 0.2, whisker: 9, marker: 0.4, valueText: '', kind: 'lockstep' },
          { label: 'consul', value: 2.5, whisker: 90, valueText: '', kind: 'peer' },
        ],
      },
      'c',
    );
    const [memory, redis, consul] = barWidths(svg);
    // A linear axis up to 90 ms would draw memory's and redis's p50 as 1 px hairlines.
    expect(memory).toBeGreaterThan(40);
    expect(redis! - memory!).toBeGreaterThan(100);
    expect(consul! - redis!).toBeGreaterThan(60);
    for (const tick of ['0.001', '0.01', '0.1', '1', '10', '100']) expect(svg).toContain(`>${tick}</text>`);
    expect(svg.match(/class="marker"/g)).toHaveLength(2);
  });

  it('draw shares on a linear axis from 0', () => {
    const svg = renderBarChart(
      {
        title: 'lock.fairness',
        subtitle: 'share',
        scale: 'linear',
        bars: [
          { label: 'a', value: 0.5, valueText: '', kind: 'lockstep' },
          { label: 'b', value: 1, valueText: '', kind: 'lockstep' },
        ],
      },
      'f',
    );
    const [a, b] = barWidths(svg);
    expect(b! / a!).toBeCloseTo(2, 1);
  });
});

describe('renderMatrix', () => {
  it('prints an aligned plain table without colour when asked', () => {
    const text = renderMatrix(sampleReport(), { color: false });
    expect(text).not.toContain('\x1b[');
    const lines = text.split('\n');
    const header = lines[0]!;
    expect(header).toMatch(/^test\s+memory\s+redis\s+consul\*$/);
    const columnStarts = [header.indexOf('memory'), header.indexOf('redis'), header.indexOf('consul*')];
    const exclusive = lines.find((line) => line.startsWith('lock.exclusive'))!;
    expect(columnStarts.map((at) => exclusive.slice(at, at + 4).trim())).toEqual(['✓', '✗[1]', '✓']);
    expect(text).toContain(`* consul: ${CONSUL_CAVEAT}`);
    expect(text).toContain('[1] two holders at 12.5 ms: <b>c1</b> & c2');
    expect(text).toMatch(/^lock\.cycle\s+0\.004 \/ 0\.020 ms\s+0\.400 \/ 1\.20 ms\s+2\.50 \/ 9\.00 ms$/m);
  });

  it('colours statuses when asked, keeping alignment', () => {
    const text = renderMatrix(sampleReport(), { color: true, bench: false });
    expect(text).toContain('\x1b[32m');
    expect(text).toContain('\x1b[31m');
    const plain = text.replaceAll(ESC, '').replace(/\[\d+m/g, '');
    expect(plain).toBe(renderMatrix(sampleReport(), { color: false, bench: false }));
  });

  it('defaults to no colour when stdout is not a TTY', () => {
    const wasTTY = process.stdout.isTTY;
    try {
      process.stdout.isTTY = false as never;
      expect(renderMatrix(sampleReport())).not.toContain('\x1b[');
    } finally {
      process.stdout.isTTY = wasTTY;
    }
  });
});

describe('writeReport', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lockstep-report-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes report.json, report.md and report.html', async () => {
    const out = path.join(dir, 'nested', 'out');
    const written = await writeReport(out, sampleReport());
    expect(written).toEqual({
      json: path.join(out, 'report.json'),
      markdown: path.join(out, 'report.md'),
      html: path.join(out, 'report.html'),
    });
    const json = await readFile(written.json, 'utf8');
    expect(parseReport(json).backends.map((b) => b.name)).toEqual(['memory', 'redis', 'consul']);
    expect(await readFile(written.markdown, 'utf8')).toBe(renderMarkdown(sampleReport()));
    expect(await readFile(written.html, 'utf8')).toContain('<svg');
    for (const file of Object.values(written)) expect(await readFile(file, 'utf8')).not.toContain('s3cret');
  });

  it('writes nothing for an invalid report', async () => {
    const out = path.join(dir, 'never');
    const bad = { ...sampleReport(), generatedAt: 'soon' };
    await expect(writeReport(out, bad)).rejects.toThrow(InvalidReportError);
    expect(existsSync(out)).toBe(false);
  });
});

/** Names of elements opened and never closed (or closed out of order), ignoring void elements. */
function unbalancedTags(html: string): string[] {
  const voidElements = new Set(['meta', 'br', 'link', 'img', 'hr', 'input']);
  const stack: string[] = [];
  const problems: string[] = [];
  for (const match of html.replace(/<!doctype[^>]*>/i, '').matchAll(/<(\/?)([a-zA-Z][\w-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match;
    const tag = name!.toLowerCase();
    if (selfClosing || voidElements.has(tag)) continue;
    if (!closing) stack.push(tag);
    else if (stack.pop() !== tag) problems.push(tag);
  }
  return [...problems, ...stack];
}
