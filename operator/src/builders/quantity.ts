const SUFFIX: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** Bytes of a size written as a Kubernetes-style quantity (`512Mi`) or a plain number. */
export function quantityToBytes(value: string | number): number {
  if (typeof value === 'number') {
    return value;
  }
  const m = /^([0-9]+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(value);
  if (!m) {
    throw new Error(`not a byte quantity: ${value}`);
  }
  return Number(m[1]) * SUFFIX[m[2] ?? ''];
}

/** Resource requirements with every quantity as a string, the form the API server returns. */
export function normalizeResources(resources: {
  requests?: Record<string, string | number>;
  limits?: Record<string, string | number>;
}): { requests?: Record<string, string>; limits?: Record<string, string> } {
  const out: { requests?: Record<string, string>; limits?: Record<string, string> } = {};
  for (const group of ['requests', 'limits'] as const) {
    const values = resources[group];
    if (values) {
      out[group] = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
    }
  }
  return out;
}
