/**
 * Light checks of JSON values read from a socket, with the value's type inferred from the
 * check (as zod infers it from a schema), for code that must stay small: the client SDK runs in
 * browsers, where full zod would be most of its bundle. A guard answers yes or no; it neither
 * copies nor strips the value (unknown fields stay and are ignored) and gives no reasons — a
 * reader that needs them (the gateway) keeps its zod schemas.
 *
 * @module
 */

/** A check of a JSON value: true when the value has the shape of `T`. */
export type Guard<T> = (value: unknown) => value is T;

/** The type a guard checks. */
export type Infer<G> = G extends Guard<infer T> ? T : never;

/** A guard of an object field that may be absent. */
export interface OptionalGuard<T> extends Guard<T | undefined> {
  /** Marks the field optional in {@linkcode ObjectOf}. */
  readonly optional: true;
}

/** A guard of one literal value. */
export interface LiteralGuard<L extends string> extends Guard<L> {
  /** The value. */
  readonly value: L;
}

/** The fields of an object guard. */
export type Shape = { readonly [key: string]: Guard<unknown> };

type Flat<T> = { [K in keyof T]: T[K] };

/** The type of the objects an object guard of `S` accepts. */
export type ObjectOf<S extends Shape> = Flat<
  & { [K in keyof S as S[K] extends OptionalGuard<unknown> ? never : K]: Infer<S[K]> }
  & { [K in keyof S as S[K] extends OptionalGuard<unknown> ? K : never]?: Infer<S[K]> }
>;

/** A guard of an object with known fields. */
export interface ObjectGuard<S extends Shape> extends Guard<ObjectOf<S>> {
  /** The guards of its fields (to extend it). */
  readonly shape: S;
}

/** A string. */
export const string: Guard<string> = (value: unknown): value is string => typeof value === "string";

/** A number. */
export const number: Guard<number> = (value: unknown): value is number => typeof value === "number";

/** A boolean. */
export const boolean: Guard<boolean> = (value: unknown): value is boolean =>
  typeof value === "boolean";

/** Exactly `value`. */
export function literal<const L extends string>(value: L): LiteralGuard<L> {
  return Object.assign((v: unknown): v is L => v === value, { value });
}

/** One of `values`. */
export function oneOf<const L extends readonly string[]>(values: L): Guard<L[number]> {
  const set: ReadonlySet<unknown> = new Set(values);
  return (value): value is L[number] => set.has(value);
}

/** `guard`'s type, or `null`. */
export function nullable<T>(guard: Guard<T>): Guard<T | null> {
  return (value): value is T | null => value === null || guard(value);
}

/** A field that may be absent (or `undefined`). */
export function optional<T>(guard: Guard<T>): OptionalGuard<T> {
  return Object.assign((v: unknown): v is T | undefined => v === undefined || guard(v), {
    optional: true as const,
  });
}

/** An array whose items all pass `guard`. */
export function array<T>(guard: Guard<T>): Guard<T[]> {
  return (value): value is T[] => Array.isArray(value) && value.every(guard);
}

/** True for a plain JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An object with (at least) these fields. */
export function object<const S extends Shape>(shape: S): ObjectGuard<S> {
  const entries = Object.entries(shape);
  const check = (value: unknown): value is ObjectOf<S> => {
    if (!isRecord(value)) return false;
    for (const [key, guard] of entries) if (!guard(value[key])) return false;
    return true;
  };
  return Object.assign(check, { shape });
}

/** A member of a union discriminated on `K`: an object guard whose `K` is a literal. */
export type Variant<K extends string> = ObjectGuard<
  Shape & { readonly [P in K]: LiteralGuard<string> }
>;

/**
 * One of `variants`, chosen by the value's `key` field (one lookup, as zod's
 * `discriminatedUnion`).
 */
export function discriminated<K extends string, const V extends readonly Variant<K>[]>(
  key: K,
  variants: V,
): Guard<Infer<V[number]>> {
  const byTag = new Map<unknown, Guard<unknown>>();
  for (const variant of variants) byTag.set(variant.shape[key].value, variant);
  return (value): value is Infer<V[number]> =>
    isRecord(value) && (byTag.get(value[key])?.(value) ?? false);
}
