import assert from "node:assert/strict";
import { chooseMediaFormat } from "../../src/protocol/media_format.ts";

Deno.test("chooseMediaFormat() takes our first preference that is offered", () => {
  const pref = ["raw/lpcm16", "raw/mulaw"] as const;
  assert.equal(chooseMediaFormat(["raw/mulaw", "raw/lpcm16"], pref), "raw/lpcm16");
  assert.equal(chooseMediaFormat(["raw/mulaw"], pref), "raw/mulaw");
  assert.equal(chooseMediaFormat(["raw/opus"], pref), undefined);
});
