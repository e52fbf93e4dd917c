import { describe, expect, it } from "vitest";

import {
  b64urlDecode,
  b64urlEncode,
  decode,
  decodeIdent,
  decodeInt,
  decodeList,
  decodeSigned,
  decodeStr,
  encode,
  encodeSigned,
  fromHex,
  toHex,
  type Field,
} from "@/crypto/encoding";
import { expectCryptoError, hex, loadVectors } from "@/test/vectors";

const v = loadVectors("encoding.json");

function field(f: any): Field {
  switch (f.kind) {
    case "bytes":
      return hex(f.hex);
    case "int":
      return BigInt(f.value);
    case "str":
      return f.value as string;
    case "list":
      return (f.items as string[]).map(hex);
    default:
      throw new Error(`unknown field kind ${String(f.kind)}`);
  }
}

describe("encoding.json: encode", () => {
  for (const c of v.encode) {
    it(c.name, () => {
      expect(toHex(encode(c.label, c.version, c.fields.map(field)))).toBe(c.expected);
    });
  }
});

describe("encoding.json: decode", () => {
  for (const c of v.decode) {
    it(c.name, async () => {
      const run = () => decode(hex(c.encoded), v.decode_label, v.decode_version, c.n_fields);
      if (c.error) {
        await expectCryptoError(run, c.error);
      } else {
        expect(run().fields.length).toBe(c.n_fields);
      }
    });
  }
});

describe("encoding.json: typed fields", () => {
  const readers: Record<string, (data: Uint8Array) => unknown> = {
    int: (d) => decodeInt(d).toString(),
    str: decodeStr,
    ident: decodeIdent,
    list: (d) => decodeList(d).map(toHex),
  };
  for (const c of v.typed_fields) {
    it(c.name, async () => {
      const read = readers[c.kind];
      if (read === undefined) throw new Error(`unknown kind ${c.kind}`);
      if (c.error) {
        await expectCryptoError(() => read(hex(c.hex)), c.error);
      } else {
        expect(read(hex(c.hex))).toEqual(c.items ?? c.value);
      }
    });
  }
});

describe("encoding.json: base64url", () => {
  for (const c of v.base64url) {
    it(c.name, async () => {
      if (c.error) {
        await expectCryptoError(() => b64urlDecode(c.b64url), c.error);
      } else {
        expect(b64urlEncode(hex(c.hex))).toBe(c.b64url);
        expect(toHex(b64urlDecode(c.b64url))).toBe(c.hex);
      }
    });
  }
});

describe("canonical encoding edge cases", () => {
  it("refuses ints outside u64 and unsafe JS numbers", async () => {
    await expectCryptoError(() => encode("x", 1, [-1]), "Malformed");
    await expectCryptoError(() => encode("x", 1, [2 ** 64]), "Malformed");
    await expectCryptoError(() => encode("x", 1, [1n << 64n]), "Malformed");
    await expectCryptoError(() => encode("x", 1, [1.5]), "Malformed");
  });

  it("round-trips the signed wrapper and refuses a 63-byte signature", async () => {
    const tbs = encode("hushroom/v1/test", 1, ["a"]);
    const sig = new Uint8Array(64).fill(1);
    const [t, s] = decodeSigned(encodeSigned(tbs, sig));
    expect(toHex(t)).toBe(toHex(tbs));
    expect(toHex(s)).toBe(toHex(sig));
    await expectCryptoError(() => decodeSigned(encodeSigned(tbs, sig.subarray(1))), "Malformed");
  });

  it("hex helpers reject odd input", async () => {
    expect(toHex(fromHex("00ff"))).toBe("00ff");
    await expectCryptoError(() => fromHex("0"), "Malformed");
    await expectCryptoError(() => fromHex("zz"), "Malformed");
  });
});
