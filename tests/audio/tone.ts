/** Test-signal helpers shared by the resampler tests and the resampler bench. */

/** A sine of `freq` Hz at `rate` Hz, `n` samples, amplitude 12000. */
export function sine(freq: number, rate: number, n: number): Int16Array {
  return Int16Array.from(
    { length: n },
    (_, i) => Math.round(12000 * Math.sin((2 * Math.PI * freq * i) / rate)),
  );
}

/** Root mean square of `x` from index `from`. */
export function rms(x: ArrayLike<number>, from = 0): number {
  let s = 0;
  for (let i = from; i < x.length; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / (x.length - from));
}

/** SNR of `y` against a sine of `freq`, fitting amplitude and phase by least squares. */
export function snrDb(y: Int16Array, freq: number, rate: number, from: number): number {
  let ss = 0, cc = 0, sc = 0, ys = 0, yc = 0;
  const w = (2 * Math.PI * freq) / rate;
  for (let i = from; i < y.length; i++) {
    const s = Math.sin(w * i), c = Math.cos(w * i);
    ss += s * s, cc += c * c, sc += s * c, ys += y[i]! * s, yc += y[i]! * c;
  }
  const det = ss * cc - sc * sc;
  const a = (ys * cc - yc * sc) / det, b = (yc * ss - ys * sc) / det;
  let sig = 0, err = 0;
  for (let i = from; i < y.length; i++) {
    const fit = a * Math.sin(w * i) + b * Math.cos(w * i);
    sig += fit * fit;
    err += (y[i]! - fit) ** 2;
  }
  return 10 * Math.log10(sig / err);
}
