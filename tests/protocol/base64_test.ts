import assert from "node:assert/strict";
import { base64ByteLength, isBase64 } from "../../src/protocol/base64.ts";

Deno.test("isBase64() checks padded base64 without decoding", () => {
  assert.ok(isBase64("AAD1CxgW3xxAH98cGBb1CwAAC/To6SHjwOAh4+jpC/Q="));
  assert.ok(isBase64(""));
  assert.ok(!isBase64("AAAAA"));
  assert.ok(!isBase64("not base64!"));
  assert.ok(!isBase64("AA==AA=="));
  assert.equal(base64ByteLength("AAD1CxgW3xxAH98cGBb1CwAAC/To6SHjwOAh4+jpC/Q="), 32);
  assert.equal(base64ByteLength("/////w=="), 4);
});
