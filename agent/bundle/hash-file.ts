import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import type { UnixFS } from '@helia/unixfs'
import type { CID } from 'multiformats/cid'

/** A file's size, SHA-256 and UnixFS CID, from one read of its bytes. */
export interface HashedFile {
  size: number
  sha256: string
  cid: CID
}

/** Leaf size of imported files: 1 MiB raw leaves (4x fewer blocks than the 256 KiB default). */
export const CHUNK_BYTES = 2 ** 20

type AddOptions = NonNullable<Parameters<UnixFS['addByteStream']>[1]>

/** Cuts a byte stream into fixed CHUNK_BYTES pieces (the last may be shorter). */
const fixedChunks: NonNullable<AddOptions['chunker']> = async function* (source) {
  let pending: Uint8Array[] = []
  let size = 0
  let emitted = false
  for await (const buf of source) {
    let b = buf
    while (size + b.length >= CHUNK_BYTES) {
      const take = CHUNK_BYTES - size
      pending.push(b.subarray(0, take))
      yield pending.length === 1 ? pending[0]! : Buffer.concat(pending)
      emitted = true
      b = b.subarray(take)
      pending = []
      size = 0
    }
    if (b.length > 0) {
      pending.push(b)
      size += b.length
    }
  }
  // An empty file is one empty chunk, as the importer's own chunkers emit.
  if (size > 0 || !emitted) yield Buffer.concat(pending)
}

/** The import settings every bundle file uses (CIDs depend on them). */
export const IMPORT_OPTIONS: Partial<AddOptions> = {
  chunker: fixedChunks,
  rawLeaves: true,
}

/**
 * Reads a file once, feeding each chunk both to SHA-256 (node:crypto: four times @noble's speed
 * in Node) and to the UnixFS importer that writes its blocks, so large bundles are read once.
 */
export async function hashAndImport(
  fs: Pick<UnixFS, 'addByteStream'>,
  path: string,
  onBytes?: (n: number) => void,
): Promise<HashedFile> {
  const hash = createHash('sha256')
  let size = 0
  async function* tee(): AsyncGenerator<Uint8Array> {
    for await (const chunk of createReadStream(path, { highWaterMark: CHUNK_BYTES })) {
      const buf = chunk as Buffer
      hash.update(buf)
      size += buf.length
      onBytes?.(buf.length)
      yield buf
    }
  }
  const cid = await fs.addByteStream(tee(), IMPORT_OPTIONS)
  return { size, sha256: hash.digest('hex'), cid }
}

/** SHA-256 hex of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
    hash.update(chunk as Buffer)
  return hash.digest('hex')
}
