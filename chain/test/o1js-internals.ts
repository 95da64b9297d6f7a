import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

/** Imports a module of o1js's build that its package exports do not expose (tests only). */
export async function importO1jsInternal<T>(relativePath: string): Promise<T> {
  const main = createRequire(import.meta.url).resolve('o1js')
  return (await import(pathToFileURL(join(dirname(main), relativePath)).href)) as T
}

/** The GraphQL documents o1js's network client sends (lib/mina/v1/graphql.js). */
export interface O1jsGraphqlModule {
  accountQuery(publicKey: string, tokenId: string): string
  currentSlotQuery: string
  genesisConstantsQuery: string
  lastBlockQuery: string
  lastBlockQueryFailureCheck(length: number): string
  transactionStatusQuery(txId: string): string
  sendZkappQuery(json: string): string
  getEventsQuery(inputs: {
    publicKey: string
    tokenId?: string
    to?: number
    from?: number
  }): string
  getActionsQuery(inputs: {
    publicKey: string
    tokenId?: string
    actionStates?: { fromActionState?: string; endActionState?: string }
    from?: number
    to?: number
  }): string
}

/** o1js's network client documents. */
export function o1jsGraphql(): Promise<O1jsGraphqlModule> {
  return importO1jsInternal<O1jsGraphqlModule>('lib/mina/v1/graphql.js')
}
