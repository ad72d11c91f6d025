/**
 * A smoke run of `deno task bench`: a few calls for a few seconds against a real gateway and
 * engine (child processes). It checks the report's shape and that every measurement is there
 * and plausible — never that anything is fast.
 */
import assert from "node:assert/strict";
import { reportLines, runBench, writeReport } from "../../src/tools/bench.ts";
import type { Summary } from "../../src/tools/bench/stats.ts";
import { percentile, summarize } from "../../src/tools/bench/stats.ts";
import { chartSvg } from "../../src/tools/bench/chart.ts";

const short = new URL("../fixtures/speech/short_24k.wav", import.meta.url);

function assertSummary(name: string, s: Summary): void {
  for (const key of ["count", "p50", "p95", "p99", "max", "mean"] as const) {
    assert.ok(Number.isFinite(s[key]) && s[key] >= 0, `${name}.${key} = ${s[key]}`);
  }
  assert.ok(s.p50 <= s.p95 && s.p95 <= s.p99 && s.p99 <= s.max, `${name} percentiles in order`);
}

Deno.test("summarize() gives nearest-rank percentiles", () => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i);
  const s = summarize(values);
  assert.deepEqual([s.count, s.p50, s.p95, s.p99, s.max, s.mean], [100, 50, 95, 99, 100, 50.5]);
  assert.equal(percentile([], 99), 0);
  assert.equal(summarize([]).count, 0);
});

Deno.test("chartSvg() draws every percentile and the budget line", () => {
  const svg = chartSvg([
    { calls: 25, count: 10, p50: 0.1, p95: 0.2, p99: 0.3, max: 2 },
    { calls: 50, count: 10, p50: 0.2, p95: 0.4, p99: 0.9, max: 5 },
  ], { title: "t <1>", subtitle: "s", targetMs: 1 });
  assert.match(svg, /^<svg /);
  assert.match(svg, /t &lt;1&gt;/);
  for (const label of ["p50", "p95", "p99", "max", "budget 1 ms"]) assert.ok(svg.includes(label));
});

Deno.test({
  name: "runBench() measures a short run end to end",
  async fn() {
    const report = await runBench({
      calls: 3,
      durationS: 8,
      spreadS: 0.3,
      warmupS: 0,
      speech: [short, short],
    });
    assert.equal(report.mode, "single");
    assert.equal(report.steps.length, 1);
    assert.equal(report.capacity, null);
    const step = report.steps[0]!;
    assert.equal(step.calls, 3);
    assert.equal(step.format, "raw/mulaw");

    // Every latency is present and plausible.
    for (const [name, summary] of Object.entries(step.latencyMs)) assertSummary(name, summary);
    const l = step.latencyMs;
    assert.ok(l.frames.count > 0, "frames measured");
    assert.ok(l.callerToUpstream.count > 0, "caller → upstream measured");
    assert.ok(l.upstreamToCaller.count + l.pacedLateness.count > 0, "upstream → caller measured");
    assert.equal(l.frames.count, l.callerToUpstream.count + l.upstreamToCaller.count);
    assert.equal(l.setup.count, 3);
    assert.equal(l.upstreamReady.count, 3);
    assert.ok(l.replyTotal.count >= 1, "a reply came");
    assert.ok(l.bargeIn.count >= 1, "the caller barged in");
    assert.equal(l.replyEngine.count, l.replyGateway.count);
    assert.ok(l.replyEngine.count <= l.replyTotal.count);

    // Counts match each other and the per-call figures.
    const c = step.counts;
    assert.equal(c.callsAccepted, 3);
    assert.equal(c.upstreamSessions, 3);
    assert.equal(l.replyTotal.count, c.replies);
    assert.equal(l.bargeIn.count, c.bargeIns);
    assert.equal(
      c.framesSent,
      c.framesAppended - step.errors.unknownAppends +
        step.errors.droppedFrames,
    );
    // Every append was matched to a frame: held at call start, or measured (whole step: the
    // frames of both directions minus the chunks sent at once).
    const chunksAtOnce = c.chunksMeasured - l.pacedLateness.count;
    assert.equal(
      c.framesAppended,
      l.framesWholeStep.count - chunksAtOnce + l.heldUntilUpstreamReady.count,
    );
    assert.equal(c.chunksMeasured, c.chunksReceived);
    assert.equal(step.perCall.length, 3);
    assert.equal(step.perCall.reduce((n, call) => n + call.framesSent, 0), c.framesSent);
    assert.equal(step.perCall.reduce((n, call) => n + call.chunks, 0), c.chunksReceived);
    for (const call of step.perCall) {
      assert.ok(call.setupMs !== null && call.setupMs >= 0);
      assertSummary(`call ${call.index}`, call.callerToUpstreamMs);
    }

    // Matching never failed (timing-dependent counters such as noReply are not checked).
    for (
      const kind of [
        "connect",
        "rejected",
        "droppedFrames",
        "outOfOrderFrames",
        "unknownAppends",
        "badChunks",
        "missedBargeIns",
        "unmappedSessions",
        "protocol",
      ] as const
    ) {
      assert.equal(step.errors[kind], 0, kind);
    }

    // Process costs, where Linux reports them.
    if (Deno.build.os === "linux") {
      assert.ok(step.gateway !== null);
      assert.ok(step.gateway.cpuSeconds >= 0 && step.gateway.peakRssMiB > 0);
      assert.ok(step.gateway.rssPerCallKiB >= 0);
      assert.ok(step.engine !== null && step.engine.cpuSeconds >= 0);
    }
    assertSummary("loop lag", step.bench.loopLagMs);
    assert.ok(step.bench.loopLagMs.count > 0);
    for (const check of ["frameP99Ms", "bargeInP99Ms", "setupP99Ms", "memoryPerCallKiB"] as const) {
      assert.equal(typeof step.budget[check].ok, "boolean");
    }
    assert.ok(report.curve.length > 0);

    // What callers hear: the greeting of every call, barge-ins as heard.
    assert.equal(l.greeting.count, 3);
    assert.ok(l.bargeInHeard.count >= 1, "a barge-in as heard");

    // The null relay ran next to the gateway, with the same upstream client.
    assert.equal(report.settings.relay, true);
    assert.equal(report.settings.upstreamClient, "ws");
    const relay = step.relay;
    assert.ok(relay !== null, "the relay's figures");
    assert.ok(relay.callerToUpstreamP99Ms.relay > 0);
    assert.equal(relay.callerToUpstreamP99Ms.gateway, l.callerToUpstream.p99);
    assert.equal(relay.relayErrors, 0);
    if (Deno.build.os === "linux") assert.ok(relay.cpuMsPerCallSecond.ratio !== null);

    // The table and the files.
    const text = reportLines(report).join("\n");
    assert.match(text, /gateway-added, per frame, both directions/);
    assert.match(text, /vs\. the null relay/);
    const dir = await Deno.makeTempDir();
    try {
      const files = await writeReport(report, dir);
      const json = JSON.parse(await Deno.readTextFile(files.json));
      assert.equal(json.steps[0].calls, 3);
      assert.match(await Deno.readTextFile(files.svg), /^<svg /);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
