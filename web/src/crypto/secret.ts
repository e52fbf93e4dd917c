/** Secret bytes that do not print, and the comparison to use on them. */

import { bytesEqual } from "./encoding.ts";

/** Node's `util.inspect` hook, so secrets stay redacted in logs and test output too. */
export const INSPECT: unique symbol = /* @__PURE__ */ Symbol.for("nodejs.util.inspect.custom");

/** Secret bytes that never show in `toString`, `JSON.stringify` or `util.inspect`. */
export class Secret {
  readonly #value: Uint8Array;

  constructor(value: Uint8Array) {
    this.#value = value.slice();
  }

  /** The secret bytes. Call only where they are used. */
  reveal(): Uint8Array {
    return this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  equals(other: Secret): boolean {
    return bytesEqual(this.#value, other.#value);
  }

  toString(): string {
    return `${this.constructor.name}(<redacted ${this.#value.length} bytes>)`;
  }

  toJSON(): string {
    return this.toString();
  }

  [INSPECT](): string {
    return this.toString();
  }
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return bytesEqual(a, b);
}
