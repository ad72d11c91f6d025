import assert from "node:assert/strict";
import fc from "fast-check";
import { truncationFor } from "../../src/bridge/barge_in.ts";

Deno.test("truncationFor() keeps the cut within what was played and generated", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 48_000 }),
      fc.boolean(),
      fc.boolean(),
      fc.integer({ min: -100, max: 2_000 }),
      fc.integer({ min: 0, max: 2_000 }),
      (generatedBytes, audioDone, known, playedMs, sentMs) => {
        const item = known ? { generatedBytes, audioDone } : undefined;
        const cut = truncationFor({ itemId: "i", playedMs, sentMs }, { item, bytesPerMs: 48 });
        const generatedMs = known ? Math.floor(generatedBytes / 48) : sentMs;
        const heardAll = known && audioDone && playedMs >= generatedMs;
        if (playedMs <= 0 || heardAll) {
          assert.equal(cut, undefined);
          return;
        }
        assert.ok(cut);
        assert.equal(cut.itemId, "i");
        assert.equal(cut.contentIndex, 0);
        assert.ok(Number.isInteger(cut.audioEndMs));
        assert.ok(cut.audioEndMs >= 0);
        assert.equal(cut.audioEndMs, Math.min(playedMs, generatedMs));
      },
    ),
  );
  assert.equal(truncationFor(undefined, { item: undefined, bytesPerMs: 48 }), undefined);
});
