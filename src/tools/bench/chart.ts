/** The SVG chart of a run: frame-latency percentiles against concurrent calls. */
import type { CurvePoint } from "./report.ts";

const esc = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** An SVG line chart of frame-latency percentiles (log scale) against concurrent calls. */
export function chartSvg(
  points: readonly CurvePoint[],
  options: { title: string; subtitle: string; targetMs: number },
): string {
  const width = 760, height = 440;
  const left = 70, right = 150, top = 64, bottom = 56;
  const plotW = width - left - right, plotH = height - top - bottom;
  const shown = points.filter((p) => p.count > 0);
  const xMax = niceCeil(Math.max(1, ...shown.map((p) => p.calls)));
  const values = shown.flatMap((p) => [p.p50, p.p95, p.p99, p.max]).filter((v) => v > 0);
  const yMin = 10 ** Math.floor(Math.log10(Math.min(options.targetMs, ...values, 1) * 0.999));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(options.targetMs, ...values, 1) * 1.001));
  const x = (calls: number) => left + (calls / xMax) * plotW;
  const y = (ms: number) => {
    const v = Math.min(yMax, Math.max(yMin, ms));
    return top + plotH - ((Math.log10(v) - Math.log10(yMin)) / Math.log10(yMax / yMin)) * plotH;
  };
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${left}" y="24" font-size="16" font-weight="600">${esc(options.title)}</text>`,
    `<text x="${left}" y="44" fill="#555">${esc(options.subtitle)}</text>`,
  ];
  for (let decade = yMin; decade <= yMax * 1.0001; decade *= 10) {
    for (const m of [1, 2, 5]) {
      const v = decade * m;
      if (v > yMax * 1.0001) break;
      const yy = y(v).toFixed(1);
      parts.push(
        `<line x1="${left}" x2="${left + plotW}" y1="${yy}" y2="${yy}" stroke="${
          m === 1 ? "#ccc" : "#eee"
        }"/>`,
      );
      if (m === 1 || yMax / yMin <= 100) {
        parts.push(
          `<text x="${
            left - 8
          }" y="${yy}" text-anchor="end" dominant-baseline="middle" fill="#333">${
            formatMs(v)
          }</text>`,
        );
      }
    }
  }
  for (let i = 0; i <= 5; i++) {
    const calls = (xMax / 5) * i;
    const xx = x(calls).toFixed(1);
    parts.push(
      `<line x1="${xx}" x2="${xx}" y1="${top}" y2="${top + plotH}" stroke="#eee"/>`,
      `<text x="${xx}" y="${top + plotH + 18}" text-anchor="middle" fill="#333">${
        Math.round(calls)
      }</text>`,
    );
  }
  parts.push(
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
    `<text x="${left + plotW / 2}" y="${height - 14}" text-anchor="middle">concurrent calls</text>`,
    `<text transform="translate(18 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">` +
      `gateway-added latency per frame (ms, log scale)</text>`,
  );
  const target = y(options.targetMs).toFixed(1);
  parts.push(
    `<line x1="${left}" x2="${
      left + plotW
    }" y1="${target}" y2="${target}" stroke="#2a9d3a" stroke-width="1.5" stroke-dasharray="6 4"/>`,
  );
  const series: { key: "p50" | "p95" | "p99" | "max"; color: string; dash?: string }[] = [
    { key: "p50", color: "#1f77b4" },
    { key: "p95", color: "#ff7f0e" },
    { key: "p99", color: "#d62728" },
    { key: "max", color: "#888", dash: "3 3" },
  ];
  for (const s of series) {
    if (shown.length === 0) break;
    const path = shown.map((p, i) =>
      `${i === 0 ? "M" : "L"}${x(p.calls).toFixed(1)} ${y(p[s.key]).toFixed(1)}`
    )
      .join(" ");
    parts.push(
      `<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"${
        s.dash ? ` stroke-dasharray="${s.dash}"` : ""
      }/>`,
    );
    for (const p of shown) {
      parts.push(
        `<circle cx="${x(p.calls).toFixed(1)}" cy="${
          y(p[s.key]).toFixed(1)
        }" r="3" fill="${s.color}">` +
          `<title>${p.calls} calls: ${s.key} ${
            formatMs(p[s.key])
          } ms (${p.count} frames)</title></circle>`,
      );
    }
  }
  const legend = [
    ...series.map((s) => ({ label: s.key, color: s.color, dash: s.dash })),
    { label: `budget ${formatMs(options.targetMs)} ms`, color: "#2a9d3a", dash: "6 4" },
  ];
  legend.forEach((entry, i) => {
    const ly = top + 10 + i * 22;
    const lx = left + plotW + 16;
    parts.push(
      `<line x1="${lx}" x2="${
        lx + 26
      }" y1="${ly}" y2="${ly}" stroke="${entry.color}" stroke-width="2"${
        entry.dash ? ` stroke-dasharray="${entry.dash}"` : ""
      }/>`,
      `<text x="${lx + 34}" y="${ly}" dominant-baseline="middle">${esc(entry.label)}</text>`,
    );
  });
  parts.push("</svg>", "");
  return parts.join("\n");
}

function niceCeil(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
    if (value <= step * magnitude) return step * magnitude;
  }
  return 10 * magnitude;
}

function formatMs(value: number): string {
  if (value >= 1) return String(Number(value.toPrecision(3)));
  return String(Number(value.toPrecision(2)));
}
