import { verify } from '@octokit/webhooks-methods'

/** `X-Hub-Signature-256` as GitHub sends it: `sha256=` and 64 lowercase hex digits. */
export const SIGNATURE_HEADER = /^sha256=[0-9a-f]{64}$/

/**
 * Whether `signature` is GitHub's HMAC-SHA256 of the raw `body` under `secret`. Octokit's verify
 * (WebCrypto `verify`, constant time in workerd); a header of any other shape is refused first,
 * since the library reads a malformed one as a shorter MAC.
 */
export async function verifySignature(
  secret: string,
  body: string,
  signature: string,
): Promise<boolean> {
  if (!SIGNATURE_HEADER.test(signature) || secret === '' || body === '') return false
  try {
    return await verify(secret, body, signature)
  } catch {
    return false
  }
}
