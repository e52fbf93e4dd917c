// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { RecoveryCodeStep } from "@/features/auth/recovery-code-step";

afterEach(cleanup);

const CODE = "7K3M-ABCD-EFGH-JKMN-PQRS-TVWX-YZ01";

function setup() {
  const onConfirmed = vi.fn();
  render(<RecoveryCodeStep code={CODE} title="Save your code" onConfirmed={onConfirmed} />);
  const input = screen.getByLabelText(/To continue, type group \d of 7/);
  const group = Number(input.getAttribute("data-group"));
  return { onConfirmed, input, expected: CODE.split("-")[group - 1]! };
}

describe("RecoveryCodeStep", () => {
  it("shows the code in 7 groups of 4 and the plain-words warning", () => {
    setup();
    const code = screen.getByTestId("recovery-code");
    expect(code.querySelectorAll(".recovery-group")).toHaveLength(7);
    expect(code.textContent).toBe(CODE.replaceAll("-", ""));
    expect(screen.getByText(/your private history is gone for good/)).toBeTruthy();
    for (const name of ["Copy", "Download as .txt", "Print"]) {
      expect(screen.getByRole("button", { name })).toBeTruthy();
    }
  });

  it("won't continue until the asked group is typed back", () => {
    const { onConfirmed, input, expected } = setup();
    fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    expect(onConfirmed).not.toHaveBeenCalled();
    fireEvent.change(input, { target: { value: "ZZZZ" } });
    fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    expect(onConfirmed).not.toHaveBeenCalled();
    expect(screen.getByText(/That isn't group/)).toBeTruthy();
    fireEvent.change(input, { target: { value: expected.toLowerCase() } });
    fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    expect(onConfirmed).toHaveBeenCalledTimes(1);
  });

  it("forgives O for 0 and I or L for 1 when typing back", () => {
    const { onConfirmed, input, expected } = setup();
    const typo = expected.replaceAll("0", "O").replaceAll("1", "l");
    fireEvent.change(input, { target: { value: ` ${typo} ` } });
    fireEvent.click(screen.getByRole("button", { name: "Continue" }));
    expect(onConfirmed).toHaveBeenCalledTimes(1);
  });
});
