// Small statistics helpers.

export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function min(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x));
  return v.length ? Math.min(...v) : null;
}

export function max(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x));
  return v.length ? Math.max(...v) : null;
}

export function sum(values) {
  return values.reduce((a, b) => a + (typeof b === 'number' && Number.isFinite(b) ? b : 0), 0);
}

/** median/min/max of `values`. */
export function summary(values) {
  return { median: median(values), min: min(values), max: max(values), n: values.filter((x) => Number.isFinite(x)).length };
}
