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
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      const buf = chunk as Buffer
      hash.update(buf)
      size += buf.length
      onBytes?.(buf.length)
      yield buf
    }
  }
  const cid = await fs.addByteStream(tee())
  return { size, sha256: hash.digest('hex'), cid }
}

/** SHA-256 hex of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
    hash.update(chunk as Buffer)
  return hash.digest('hex')
}
