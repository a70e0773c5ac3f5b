// The benchmarks' numeric settings, read from the environment (BENCH_DURATION, BENCH_ROUNDS …).

/**
 * The positive number in the environment variable `name` (`fallback` when unset or empty): a whole one unless
 * `fractions` allows parts. Anything else stops the run with the variable's name, rather than measuring nothing.
 */
export function positiveEnv(name: string, fallback: number, { fractions = false } = {}): number {
  const value = Number(process.env[name] || fallback);
  const valid = fractions ? Number.isFinite(value) : Number.isInteger(value);
  if (!valid || value <= 0) throw new Error(`${name} must be a positive ${fractions ? 'number' : 'integer'}, got "${process.env[name]}".`);
  return value;
}
