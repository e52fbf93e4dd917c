/**
 * The browser's device key: a non-extractable WebCrypto Ed25519 key pair. The
 * `CryptoKeyPair` can be stored in IndexedDB as is (structured clone keeps it non-extractable);
 * the crypto core only sees it as a `MessageSigner`.
 */

import type { MessageSigner } from "@/crypto/ed25519-sign";

const ED25519 = { name: "Ed25519" } as const;

export class WebCryptoDeviceKey implements MessageSigner {
  readonly publicKey: Uint8Array;
  readonly keyPair: CryptoKeyPair;
  readonly #subtle: SubtleCrypto;

  private constructor(keyPair: CryptoKeyPair, publicKey: Uint8Array, subtle: SubtleCrypto) {
    this.keyPair = keyPair;
    this.publicKey = publicKey;
    this.#subtle = subtle;
  }

  /** A new non-extractable key pair. */
  static async generate(subtle: SubtleCrypto = crypto.subtle): Promise<WebCryptoDeviceKey> {
    const pair = (await subtle.generateKey(ED25519, false, ["sign", "verify"]));
    return WebCryptoDeviceKey.fromKeyPair(pair, subtle);
  }

  /** Wrap a key pair loaded back from IndexedDB. */
  static async fromKeyPair(
    keyPair: CryptoKeyPair,
    subtle: SubtleCrypto = crypto.subtle,
  ): Promise<WebCryptoDeviceKey> {
    const raw = new Uint8Array(await subtle.exportKey("raw", keyPair.publicKey));
    return new WebCryptoDeviceKey(keyPair, raw, subtle);
  }

  async sign(message: Uint8Array): Promise<Uint8Array> {
    const data = message.slice();
    return new Uint8Array(await this.#subtle.sign(ED25519, this.keyPair.privateKey, data));
  }

  toString(): string {
    return "WebCryptoDeviceKey(<non-extractable>)";
  }
}
