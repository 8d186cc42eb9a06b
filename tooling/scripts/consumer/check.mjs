// Tiny assertion helpers shared by the consumer programs.
export function close(got, want, tol, what) {
  if (!(Math.abs(got - want) <= tol)) throw new Error(`${what}: got ${got}, want ${want} ± ${tol}`);
}
export function ok(cond, what) {
  if (!cond) throw new Error(what);
}
