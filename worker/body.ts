import type { Context } from 'hono'
import { ApiError, ApiErrorCode } from './errors.ts'

/** Largest body any endpoint reads: a sealed job request is a few KiB, a registration a few more. */
export const MAX_BODY_BYTES = 64 * 1024

const tooLarge = (limit: number) =>
  new ApiError(413, ApiErrorCode.BODY_TOO_LARGE, `body exceeds ${limit} bytes`)

/** Reads the body as text, refusing more than `limit` bytes without buffering them. */
export async function readText(c: Context, limit = MAX_BODY_BYTES): Promise<string> {
  const declared = Number(c.req.header('content-length') ?? '0')
  if (declared > limit) throw tooLarge(limit)
  const body = c.req.raw.body
  if (body === null) return ''
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel()
      throw tooLarge(limit)
    }
    chunks.push(value)
  }
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch {
    throw new ApiError(400, ApiErrorCode.MALFORMED_JSON, 'body is not UTF-8')
  }
}

/** Reads and parses a JSON body (any media type is read as JSON: the body is what is checked). */
export async function readJson(c: Context, limit = MAX_BODY_BYTES): Promise<unknown> {
  const text = await readText(c, limit)
  try {
    return JSON.parse(text)
  } catch {
    throw new ApiError(400, ApiErrorCode.MALFORMED_JSON, 'body is not valid JSON')
  }
}
