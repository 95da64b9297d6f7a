import Client from 'mina-signer-3'
import type { BrowserContext } from 'playwright-core'
import { publicKeyOf, signFields } from '../protocol/index.ts'

// A stand-in for the Auro extension in a Playwright browser: it injects `window.mina` with the
// documented provider calls the page uses (requestAccounts, signFields, sendTransaction) and
// answers them from a key held here. Like Auro, sendTransaction takes the fee in MINA, sets the
// fee payer's nonce from the node, signs the fee payer and the account updates its key
// authorizes (mina-signer 3, which signs o1js 2's transaction layout), and broadcasts the command
// to the node's GraphQL `sendZkapp`.

/** What the stand-in did, for the test to check. */
export interface AuroStandIn {
  readonly publicKey: string
  /** Hashes of the zkApp commands it sent. */
  readonly sent: string[]
}

type Call =
  | { method: 'requestAccounts' }
  | { method: 'signFields'; params: { message: string[] } }
  | {
      method: 'sendTransaction'
      params: { transaction: string | object; feePayer?: { fee?: number; memo?: string } }
    }

async function graphql<T>(url: string, query: string, variables: object): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  })
  const body = (await res.json()) as { data?: T; errors?: { message: string }[] }
  if (body.errors?.length || !body.data)
    throw new Error(body.errors?.map((e) => e.message).join('; ') ?? `HTTP ${res.status}`)
  return body.data
}

/** Installs the stand-in in every page of `context` opened from now on. */
export async function installAuroStandIn(
  context: BrowserContext,
  options: { privateKey: string; graphqlUrl: string },
): Promise<AuroStandIn> {
  const pub = publicKeyOf(options.privateKey)
  if (!pub.ok) throw new Error('the Auro stand-in needs a Mina private key')
  const publicKey = pub.value
  const signer = new Client({ network: 'devnet' })
  const state: AuroStandIn = { publicKey, sent: [] }

  const answer = async (call: Call): Promise<unknown> => {
    switch (call.method) {
      case 'requestAccounts':
        return [publicKey]
      case 'signFields': {
        const signature = await signFields(call.params.message.map(BigInt), options.privateKey)
        return { data: call.params.message, signature }
      }
      case 'sendTransaction': {
        const { transaction, feePayer } = call.params
        const command = typeof transaction === 'string' ? JSON.parse(transaction) : transaction
        const { account } = await graphql<{ account: { nonce: string } | null }>(
          options.graphqlUrl,
          'query($pk: PublicKey!) { account(publicKey: $pk) { nonce } }',
          { pk: publicKey },
        )
        if (!account) return { code: 1001, message: 'the account does not exist' }
        const signed = signer.signZkappCommand(
          {
            zkappCommand: command,
            feePayer: {
              feePayer: publicKey,
              fee: String(Math.round((feePayer?.fee ?? 0.1) * 1e9)),
              nonce: account.nonce,
              memo: feePayer?.memo ?? '',
            },
          },
          options.privateKey,
        )
        try {
          const data = await graphql<{ sendZkapp: { zkapp: { hash: string } } }>(
            options.graphqlUrl,
            'mutation($input: SendZkappInput!) { sendZkapp(input: $input) { zkapp { hash } } }',
            { input: { zkappCommand: signed.data.zkappCommand } },
          )
          state.sent.push(data.sendZkapp.zkapp.hash)
          return { hash: data.sendZkapp.zkapp.hash }
        } catch (e) {
          // Auro answers a refused broadcast with a ProviderError object, not an exception.
          return { code: 1002, message: (e as Error).message }
        }
      }
    }
  }
  await context.exposeBinding('__zkrunnerAuroStandIn', (_source, call: Call) => answer(call))
  await context.addInitScript(() => {
    const call = (window as unknown as { __zkrunnerAuroStandIn: (c: unknown) => Promise<unknown> })
      .__zkrunnerAuroStandIn
    ;(window as unknown as { mina: object }).mina = {
      requestAccounts: () => call({ method: 'requestAccounts' }),
      signFields: (params: unknown) => call({ method: 'signFields', params }),
      sendTransaction: (params: unknown) => call({ method: 'sendTransaction', params }),
    }
  })
  return state
}
