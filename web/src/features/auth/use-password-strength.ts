/** The live strength of a new password, for the meter under the field. */
import { useDeferredValue, useEffect, useMemo, useState } from "react";

import type { PopupContent } from "@/components/popup";
import {
  CHECKING,
  loadPasswordStrength,
  passwordStrength,
  type RatePassword,
  type Strength,
} from "@/lib/password-strength";

/**
 * Starts loading the zxcvbn dictionaries when the form mounts; `CHECKING` (never acceptable)
 * until they are there. Submits re-check with `passwordStrength`, which waits for them.
 */
export function usePasswordStrength(password: string, personal: readonly string[]): Strength {
  const [rate, setRate] = useState<{ readonly fn: RatePassword } | null>(null);
  useEffect(() => {
    let live = true;
    loadPasswordStrength().then(
      (fn) => {
        if (live) setRate({ fn });
      },
      () => {
        // Offline or a stale deployment: the meter keeps saying "Checking…"; the submit retries.
      },
    );
    return () => {
      live = false;
    };
  }, []);
  const deferred = useDeferredValue(password);
  const personalKey = personal.join("\n");
  return useMemo(
    () => (rate === null ? CHECKING : rate.fn(deferred, personalKey.split("\n"))),
    [rate, deferred, personalKey],
  );
}

/**
 * The check before a new password (or chat passphrase: `noun`) is used: `null` when it is strong
 * enough, else what the popup says (also when the dictionaries cannot be loaded: nothing weak
 * slips through unchecked).
 */
export async function newPasswordRefusal(
  password: string,
  personal: readonly string[],
  noun: "password" | "passphrase" = "password",
): Promise<PopupContent | null> {
  let strength: Strength;
  try {
    strength = await passwordStrength(password, personal);
  } catch {
    return {
      title: `Couldn't check the ${noun}`,
      detail: `The ${noun} checker did not load. Check your connection and try again.`,
    };
  }
  return strength.acceptable ? null : { title: `Choose a stronger ${noun}`, detail: strength.reason };
}
