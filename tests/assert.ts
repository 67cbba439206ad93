// The std/assert names tests use, on top of node:assert/strict (JSR is not
// reachable here). Swap the import map entry for jsr:@std/assert to use std.
import assert from "node:assert/strict";

export function assert_(cond: unknown, msg?: string): asserts cond {
  assert.ok(cond, msg);
}
export { assert_ as assert };

export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  assert.deepStrictEqual(actual, expected, msg);
}

export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  assert.notDeepStrictEqual(actual, expected, msg);
}

export function assertStrictEquals<T>(actual: T, expected: T, msg?: string): void {
  assert.strictEqual(actual, expected, msg);
}

export function assertAlmostEquals(actual: number, expected: number, tolerance = 1e-7, msg?: string): void {
  const ok = actual === expected || Math.abs(actual - expected) <= tolerance ||
    (Number.isNaN(actual) && Number.isNaN(expected));
  assert.ok(ok, msg ?? `expected ${actual} to be within ${tolerance} of ${expected}`);
}

export function assertThrows(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  errorClass?: new (...args: any[]) => Error,
  msgIncludes?: string,
): Error {
  try {
    fn();
  } catch (e) {
    if (errorClass && !(e instanceof errorClass)) {
      throw new assert.AssertionError({
        message: `expected ${errorClass.name}, got ${(e as Error)?.constructor?.name}: ${e}`,
      });
    }
    if (msgIncludes !== undefined && !String((e as Error).message).includes(msgIncludes)) {
      throw new assert.AssertionError({
        message: `expected message to include "${msgIncludes}", got "${(e as Error).message}"`,
      });
    }
    return e as Error;
  }
  throw new assert.AssertionError({ message: "expected function to throw" });
}

export async function assertRejects(fn: () => Promise<unknown>, msgIncludes?: string): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    if (msgIncludes !== undefined && !String((e as Error).message).includes(msgIncludes)) {
      throw new assert.AssertionError({
        message: `expected message to include "${msgIncludes}", got "${(e as Error).message}"`,
      });
    }
    return e as Error;
  }
  throw new assert.AssertionError({ message: "expected promise to reject" });
}

export function assertGreater(a: number, b: number, msg?: string): void {
  assert.ok(a > b, msg ?? `expected ${a} > ${b}`);
}

export function assertLess(a: number, b: number, msg?: string): void {
  assert.ok(a < b, msg ?? `expected ${a} < ${b}`);
}
