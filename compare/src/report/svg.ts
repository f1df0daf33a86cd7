/**
 * Horizontal bar charts as inline SVG, drawn from scratch (no chart library, no network).
 *
 * Latencies and throughputs span orders of magnitude across backends (an in-process lock
 * cycle takes microseconds, a Consul one milliseconds) and a p99 can be 10× its p50: on a
 * linear axis the largest value flattens everything else to a pixel. So those charts use a
 * logarithmic axis with a labelled tick per power of ten, where equal ratios are equal
 * distances; shares (0–1) keep a linear one.
 * @module
 */

/** One bar of a chart. */
export interface Bar {
  /** Text left of the bar. */
  readonly label: string;
  /** Bar length in chart units (p50 for latencies). */
  readonly value: number;
  /** An optional whisker end (p99 for latencies), drawn as a thin line past the bar. */
  readonly whisker?: number;
  /** An optional marker (the mean for latencies), drawn as a diamond on the bar's line. */
  readonly marker?: number;
  /** Text right of the bar. */
  readonly valueText: string;
  /** `lockstep`, a `baseline` (floor / naive) or a `peer` library: drawn in different colours. */
  readonly kind: 'lockstep' | 'baseline' | 'peer';
  /** Drawn hatched, for figures from an emulator. */
  readonly hatched?: boolean;
  /** Starts a new group (a new backend): a little space above it. */
  readonly groupStart?: boolean;
}

/** A chart: a title, a unit for the axis note, its scale and its bars. */
export interface BarChart {
  readonly title: string;
  /** Shown under the title, e.g. `ms — bar: p50, ◆ mean, whisker: p99`. */
  readonly subtitle: string;
  readonly bars: readonly Bar[];
  /** `log` (default) for values spanning orders of magnitude; `linear` from 0. */
  readonly scale?: 'log' | 'linear';
  /** A value to mark with a vertical line across the plot (e.g. 1× on a ratio chart). */
  readonly reference?: { readonly value: number; readonly label: string };
  /** How tick values are written (default: compact number). */
  readonly tickFormat?: (value: number) => string;
}

const PLOT = 460;
const ROW = 22;
const GROUP_GAP = 8;
const BAR = 12;
const TOP = 58;
const BOTTOM = 22;
const CHAR = 6.4; // average glyph width of 11px sans-serif, for sizing the label column
const VALUE_COLUMN = 190;

/** Maps a value to a position on the plot (0 … PLOT), and lists the ticks worth labelling. */
interface Axis {
  position(value: number): number;
  readonly ticks: readonly number[];
}

function logAxis(values: readonly number[]): Axis {
  const positive = values.filter((value) => value > 0);
  const low = Math.floor(Math.log10(Math.min(...positive, 1)));
  const high = Math.max(low + 1, Math.ceil(Math.log10(Math.max(...positive, 1))));
  const span = high - low;
  const ticks = Array.from({ length: span + 1 }, (_, i) => 10 ** (low + i));
  return {
    position: (value) => (value <= 0 ? 0 : ((Math.log10(value) - low) / span) * PLOT),
    ticks,
  };
}

function linearAxis(values: readonly number[]): Axis {
  const max = Math.max(...values, Number.MIN_VALUE);
  const step = 10 ** Math.floor(Math.log10(max));
  const top = Math.ceil(max / step) * step;
  const ticks = Array.from({ length: Math.round(top / step) + 1 }, (_, i) => i * step);
  return {
    position: (value) => (Math.max(0, value) / top) * PLOT,
    ticks: ticks.length > 12 ? [0, top] : ticks,
  };
}

/** A compact number: `0.001`, `0.1`, `10`, `1k`, `100k`, `1M`. */
export function compactNumber(value: number): string {
  if (value >= 1e6) return `${value / 1e6}M`;
  if (value >= 1e3) return `${value / 1e3}k`;
  return String(Number(value.toPrecision(3)));
}

/**
 * Draws a chart as a self-contained `<svg>` element. The label column grows to fit the
 * longest label; all text is escaped. `id` must be unique in the page (it prefixes the
 * element ids the chart defines).
 */
export function renderBarChart(chart: BarChart, id: string): string {
  const labelWidth = Math.max(
    80,
    Math.ceil(Math.max(0, ...chart.bars.map((b) => b.label.length)) * CHAR) + 12,
  );
  const width = labelWidth + PLOT + VALUE_COLUMN;
  const hatch = `${id}-hatch`;
  const values = chart.bars.flatMap((bar) => [bar.value, bar.whisker ?? bar.value, bar.marker ?? bar.value]);
  if (chart.reference) values.push(chart.reference.value);
  const axis = chart.scale === 'linear' ? linearAxis(values) : logAxis(values);
  const x = (value: number) => labelWidth + axis.position(value);
  const rowsTop: number[] = [];
  let y = TOP;
  for (const bar of chart.bars) {
    if (bar.groupStart && rowsTop.length > 0) y += GROUP_GAP;
    rowsTop.push(y);
    y += ROW;
  }
  const plotBottom = y;
  const height = plotBottom + BOTTOM;
  const tickText = chart.tickFormat ?? compactNumber;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" ` +
      'font-family="system-ui, sans-serif" font-size="11" ' +
      `viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(chart.title)}">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<defs><pattern id="${escapeXml(hatch)}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
      '<rect width="6" height="6" fill="#f2b84b"/><line x1="0" y1="0" x2="0" y2="6" stroke="#8a5a00" stroke-width="2"/>' +
      '</pattern></defs>',
    `<text x="0" y="16" font-size="13" font-weight="600" class="chart-title">${escapeXml(chart.title)}</text>`,
    `<text x="0" y="32" fill="#57606a" class="chart-subtitle">${escapeXml(chart.subtitle)}</text>`,
  );
  for (const tick of axis.ticks) {
    const at = x(tick).toFixed(1);
    parts.push(
      `<line x1="${at}" y1="${TOP - 8}" x2="${at}" y2="${plotBottom}" stroke="#d8dee4" class="grid"/>`,
      `<text x="${at}" y="${TOP - 12}" text-anchor="middle" fill="#57606a" class="tick">${escapeXml(tickText(tick))}</text>`,
    );
  }
  parts.push(
    `<line x1="${labelWidth}" y1="${TOP - 8}" x2="${labelWidth}" y2="${plotBottom}" stroke="#8c959f" class="axis"/>`,
  );
  if (chart.reference) {
    const at = x(chart.reference.value).toFixed(1);
    parts.push(
      `<line x1="${at}" y1="${TOP - 8}" x2="${at}" y2="${plotBottom}" stroke="#cf222e" stroke-dasharray="4 3" class="reference"/>`,
      `<text x="${at}" y="${plotBottom + 14}" text-anchor="middle" fill="#cf222e" class="reference-label">${escapeXml(chart.reference.label)}</text>`,
    );
  }
  chart.bars.forEach((bar, index) => {
    const top = rowsTop[index]!;
    const middle = top + BAR / 2;
    // At least a hairline for any non-zero value, so a tiny figure still shows as a bar.
    const end = bar.value > 0 ? Math.max(labelWidth + 1, x(bar.value)) : labelWidth;
    const fill = bar.hatched ? `url(#${escapeXml(hatch)})` : COLOUR[bar.kind];
    parts.push(
      `<g class="bar ${bar.kind}">`,
      `<text x="${labelWidth - 6}" y="${top + BAR - 2}" text-anchor="end" class="label">${escapeXml(bar.label)}</text>`,
      `<rect x="${labelWidth}" y="${top}" width="${(end - labelWidth).toFixed(1)}" height="${BAR}" fill="${fill}"/>`,
    );
    if (bar.whisker !== undefined && bar.whisker > bar.value) {
      const tip = Math.max(end, x(bar.whisker));
      parts.push(
        `<line x1="${end.toFixed(1)}" y1="${middle}" x2="${tip.toFixed(1)}" y2="${middle}" ${WHISKER}/>`,
        `<line x1="${tip.toFixed(1)}" y1="${top + 2}" x2="${tip.toFixed(1)}" y2="${top + BAR - 2}" ${WHISKER}/>`,
      );
    }
    if (bar.marker !== undefined && bar.marker > 0) {
      const at = x(bar.marker);
      parts.push(
        `<path d="M${at.toFixed(1)} ${top - 1}l4 ${BAR / 2 + 1}l-4 ${BAR / 2 + 1}l-4 -${BAR / 2 + 1}z" fill="#ffffff" stroke="#1d2630" stroke-width="1.2" class="marker"/>`,
      );
    }
    parts.push(
      `<text x="${width - VALUE_COLUMN + 8}" y="${top + BAR - 2}" fill="#57606a" class="value">${escapeXml(bar.valueText)}</text>`,
      '</g>',
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

// Styling is in attributes, not page CSS, so a chart copied out of the page still renders.
const WHISKER = 'stroke="#1d2630" stroke-width="1.2" class="whisker"';

const COLOUR: Record<Bar['kind'], string> = {
  lockstep: '#2f6fdf',
  baseline: '#9aa5b1',
  peer: '#d9822b',
};

/** Escapes text for XML and HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
