import assert from "node:assert/strict";
import { fullBucket, take } from "../../src/core/rate_limit.ts";

Deno.test("take() allows a second of burst, then refills at the rate", () => {
  let bucket = fullBucket(4, 0);
  const results: boolean[] = [];
  for (let i = 0; i < 5; i++) {
    const r = take(bucket, { perSecond: 4, now: 0 });
    bucket = r.bucket;
    results.push(r.allowed);
  }
  assert.deepEqual(results, [true, true, true, true, false]);
  assert.equal(take(bucket, { perSecond: 4, now: 100 }).allowed, false);
  const later = take(bucket, { perSecond: 4, now: 250 });
  assert.equal(later.allowed, true);
  // Never more than one second of burst, however long the pause.
  let idle = fullBucket(2, 0);
  idle = take(idle, { perSecond: 2, now: 60_000 }).bucket;
  idle = take(idle, { perSecond: 2, now: 60_000 }).bucket;
  assert.equal(take(idle, { perSecond: 2, now: 60_000 }).allowed, false);
});

Deno.test("fullBucket() refuses a rate that is not positive", () => {
  assert.throws(() => fullBucket(0, 0), RangeError);
});
