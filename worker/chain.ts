import type { Config } from './config.ts'
import { type ChainReader, MinaGraphqlReader } from './mina.ts'

const readers = new Map<string, MinaGraphqlReader>()

/** The isolate's chain reader for the configured Mina GraphQL URL (its cache is shared by requests). */
export function chainReaderFor(config: Config): ChainReader {
  const key = `${config.minaGraphqlUrl}|${config.minaArchiveUrl}|${config.chainCacheMs}`
  let reader = readers.get(key)
  if (!reader) {
    reader = new MinaGraphqlReader(config.minaGraphqlUrl, {
      cacheMs: config.chainCacheMs,
      archiveUrl: config.minaArchiveUrl,
    })
    readers.set(key, reader)
  }
  return reader
}
