/** Client message ids: 32 lowercase hex characters (random 128 bits, unique per device). */
export function newClientMsgId(random: (n: number) => Uint8Array = randomBytes): string {
  return Array.from(random(16), (b) => b.toString(16).padStart(2, "0")).join("");
}

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

export const CLIENT_MSG_ID = /^[0-9a-f]{32}$/;
