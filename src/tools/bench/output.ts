/** The report's outputs: the stdout table, `<name>.json` and the `<name>.svg` chart. */
import type { BenchReport } from "./report.ts";
import { chartSvg } from "./chart.ts";
import { BUDGET, rampLines, stepLines } from "./report.ts";

/** Writes `<name>.json` and `<name>.svg` into `dir`; returns their paths. */
export async function writeReport(
  report: BenchReport,
  dir: string,
): Promise<{ json: string; svg: string }> {
  await Deno.mkdir(dir, { recursive: true });
  const name = report.mode === "ramp" ? "ramp" : "bench";
  const json = `${dir.replace(/\/$/, "")}/${name}.json`;
  const svg = `${dir.replace(/\/$/, "")}/${name}.svg`;
  await Deno.writeTextFile(json, `${JSON.stringify(report, null, 2)}\n`);
  const step = report.steps.at(-1);
  const format = step?.format ?? "";
  const title = report.mode === "ramp"
    ? `Gateway-added latency per frame vs. concurrent ${format} calls`
    : `Gateway-added latency per frame while ${step?.calls ?? 0} ${format} calls ramp up`;
  const m = report.machine;
  const capacity = report.capacity
    ? `; capacity at p99 ≤ ${report.capacity.targetMs} ms: ${report.capacity.calls} calls`
    : "";
  await Deno.writeTextFile(
    svg,
    chartSvg(report.curve, {
      title,
      subtitle: `${m.cpus} × ${
        m.cpuModel || "CPU"
      }, ${m.os} ${m.kernel}, Deno ${m.deno}${capacity}`,
      targetMs: report.capacity?.targetMs ?? step?.budget.frameP99Ms.limit ?? BUDGET.frameP99Ms,
    }),
  );
  return { json, svg };
}

/** The report's human text (the stdout table). */
export function reportLines(report: BenchReport): string[] {
  const m = report.machine;
  const lines = [
    `Voice gateway benchmark (${report.mode}) on ${m.cpus} × ${
      m.cpuModel || "CPU"
    }, ${m.os} ${m.kernel}, Deno ${m.deno}`,
    "",
  ];
  if (report.mode === "ramp") {
    lines.push(...rampLines(report), "");
    const last = report.steps.filter((s) => s.calls === report.capacity?.calls).at(-1);
    if (last) lines.push(`At capacity (${last.calls} calls):`, ...stepLines(last));
  } else {
    for (const step of report.steps) lines.push(...stepLines(step));
  }
  return lines;
}
