// The chart of the drain and send results: hand-written SVG, no dependencies. One panel per
// case, one group of horizontal bars per payload size, one bar per contestant (median, with a
// thin min–max whisker), labelled with packets/s and the ratio to the C reference.

const COLORS = {
  'c-recvmmsg': '#4d4d4d',
  'c-recvmsg': '#9a9a9a',
  'c-recvmmsg-meta': '#767676',
  'c-recvmmsg-name': '#b0b0b0',
  'mcast-batch': '#1f77b4',
  'mcast-batch-nosource': '#3f9fd8',
  'mcast-message': '#6baed6',
  dgram: '#e6550d',
  'c-sendmmsg': '#4d4d4d',
  'c-sendto': '#9a9a9a',
  'mcast-sendBatch': '#1f77b4',
  'mcast-send': '#6baed6',
  'dgram-send': '#e6550d',
};

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const n1 = (x) => (Math.round(x * 10) / 10).toString();

/** A "nice" axis maximum and tick step for values up to `max`. */
function axis(max) {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  return { top: Math.ceil(max / step) * step, step };
}

/**
 * @param {{ title: string, subtitle?: string, panels: { title: string, sections: { variant: string, rows: object[] }[] }[] }} chart
 * @returns {string} the SVG document
 */
export function barChart({ title, subtitle = '', panels }) {
  const W = 960;
  const labelW = 170; // contestant names
  const valueW = 190; // value labels right of the bar
  const plotX = 16 + labelW;
  const plotW = W - plotX - valueW - 16;
  const barH = 16;
  const barGap = 4;
  const groupGap = 14;
  const parts = [];
  let y = 20;
  parts.push(`<text x="16" y="${y + 6}" class="title">${esc(title)}</text>`);
  y += 22;
  if (subtitle) {
    parts.push(`<text x="16" y="${y}" class="sub">${esc(subtitle)}</text>`);
    y += 12;
  }
  for (const panel of panels) {
    y += 22;
    parts.push(`<text x="16" y="${y}" class="panel">${esc(panel.title)}</text>`);
    y += 10;
    const all = panel.sections.flatMap((s) => s.rows.flatMap((r) => [r.median, r.max])).filter((v) => Number.isFinite(v));
    const { top, step } = axis(Math.max(0, ...all) / 1e6);
    const scale = (v) => (plotW * (v / 1e6)) / top;
    const y0 = y + 16;
    // Height of the panel's plot area.
    const h = panel.sections.reduce((acc, s) => acc + 18 + s.rows.length * (barH + barGap) + groupGap, 0);
    // Grid and tick labels.
    for (let v = 0; v <= top + 1e-9; v += step) {
      const x = plotX + (plotW * v) / top;
      parts.push(`<line x1="${n1(x)}" y1="${y0 - 4}" x2="${n1(x)}" y2="${y0 + h - groupGap}" class="grid"/>`);
      parts.push(`<text x="${n1(x)}" y="${y0 - 7}" class="tick" text-anchor="middle">${esc(Number(v.toFixed(3)))}</text>`);
    }
    parts.push(`<text x="${plotX + plotW}" y="${y0 + h - groupGap + 14}" class="tick" text-anchor="end">million packets per second (median; whisker: min–max)</text>`);
    let gy = y0;
    for (const section of panel.sections) {
      parts.push(`<text x="16" y="${gy + 12}" class="group">${esc(section.variant)}</text>`);
      gy += 18;
      for (const r of section.rows) {
        const color = COLORS[r.id] ?? '#888';
        parts.push(`<text x="${plotX - 8}" y="${gy + barH - 4}" class="label" text-anchor="end">${esc(r.label)}</text>`);
        if (Number.isFinite(r.median)) {
          const w = Math.max(1, scale(r.median));
          parts.push(`<rect x="${plotX}" y="${gy}" width="${n1(w)}" height="${barH}" fill="${color}"><title>${esc(`${r.label}: ${(r.median / 1e6).toFixed(3)} Mpps`)}</title></rect>`);
          if (Number.isFinite(r.min) && Number.isFinite(r.max) && r.max > r.min) {
            const x1 = plotX + scale(r.min);
            const x2 = plotX + scale(r.max);
            const my = gy + barH / 2;
            parts.push(`<path d="M${n1(x1)} ${my}H${n1(x2)}M${n1(x1)} ${my - 4}V${my + 4}M${n1(x2)} ${my - 4}V${my + 4}" class="whisker"/>`);
          }
          const ratio = Number.isFinite(r.ratio) ? ` · ${r.ratio.toFixed(2)}× C` : '';
          const lx = plotX + Math.max(scale(r.median), Number.isFinite(r.max) ? scale(r.max) : 0) + 6;
          parts.push(`<text x="${n1(lx)}" y="${gy + barH - 4}" class="value">${esc(`${(r.median / 1e6).toFixed(3)} Mpps${ratio}`)}</text>`);
        } else {
          parts.push(`<text x="${plotX + 4}" y="${gy + barH - 4}" class="value">no result</text>`);
        }
        gy += barH + barGap;
      }
      gy += groupGap;
    }
    y = gy + 14;
  }
  const H = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`,
    '<style>',
    '.title{font-size:17px;font-weight:bold;fill:#222}.sub{font-size:11px;fill:#555}',
    '.panel{font-size:14px;font-weight:bold;fill:#222}.group{font-size:12px;font-weight:bold;fill:#333}',
    '.label{font-size:12px;fill:#222}.value{font-size:11px;fill:#222}.tick{font-size:10px;fill:#666}',
    '.grid{stroke:#e3e3e3;stroke-width:1}.whisker{stroke:#000;stroke-width:1;fill:none;opacity:.55}',
    '</style>',
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
