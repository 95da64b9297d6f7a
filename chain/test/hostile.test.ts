import { getIntrospectionQuery } from 'graphql'
import { AccountUpdate, Lightnet, Mina, PrivateKey, sendZkapp, type Types } from 'o1js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LocalChainNode, startLocalChain } from '../index.ts'

// Malformed and hostile requests get GraphQL errors (or a JSON HTTP error) and the node keeps
// answering; transactions a Mina node would refuse are refused with the daemon's reason.

let node: LocalChainNode

interface GraphQLBody {
  data?: Record<string, unknown> | null
  errors?: { message: string; extensions?: { code?: string } }[]
}

async function post(url: string, body: string): Promise<{ status: number; json: GraphQLBody }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  })
  return { status: res.status, json: (await res.json()) as GraphQLBody }
}

const gql = (query: string, variables?: unknown) =>
  post(node.url, JSON.stringify({ query, variables }))

function firstError(json: GraphQLBody): string {
  expect(json.errors?.length).toBeGreaterThan(0)
  return json.errors?.[0]?.message ?? ''
}

beforeAll(async () => {
  node = await startLocalChain({ port: 0, autoAdvance: false, accounts: 3 })
})

afterAll(async () => {
  await node?.close()
})

describe('hostile GraphQL input', () => {
  it('answers a body that is not JSON with a 400 GraphQL error', async () => {
    const { status, json } = await post(node.url, '{"query": ')
    expect(status).toBe(400)
    expect(firstError(json)).toMatch(/not valid JSON/)
  })

  it('refuses batches, missing queries and wrongly typed fields', async () => {
    expect(firstError((await post(node.url, '[{"query":"{ networkID }"}]')).json)).toMatch(
      /JSON object/,
    )
    expect(firstError((await post(node.url, '{"query": 42}')).json)).toMatch(/query must be/)
    expect(
      firstError((await post(node.url, '{"query":"{ networkID }","variables":[1]}')).json),
    ).toMatch(/variables must be/)
  })

  it('reports syntax errors, unknown fields and wrong argument types', async () => {
    expect(firstError((await gql('{ account(publicKey: ')).json)).toMatch(/Syntax Error/)
    expect(firstError((await gql('{ nope }')).json)).toMatch(/Cannot query field "nope"/)
    expect(firstError((await gql('{ account(publicKey: 5) { nonce } }')).json)).toMatch(/PublicKey/)
    expect(firstError((await gql('{ account(publicKey: "B62qnotakey") { nonce } }')).json)).toMatch(
      /invalid PublicKey/,
    )
    const withVariable = await gql(
      'query ($pk: PublicKey!) { account(publicKey: $pk) { nonce } }',
      {
        pk: 5,
      },
    )
    expect(firstError(withVariable.json)).toMatch(/PublicKey/)
  })

  it('refuses deeply nested brackets before parsing', async () => {
    const deep = `${'{ a '.repeat(5000)}${'}'.repeat(5000)}`
    expect(firstError((await gql(deep)).json)).toMatch(/nests deeper/)
    const deepList = `{ account(publicKey: ${'['.repeat(10_000)}) { nonce } }`
    expect(firstError((await gql(deepList)).json)).toMatch(/nests deeper/)
  })

  it('limits selection depth, also through fragments', async () => {
    const chain = `{ account(publicKey: "${node.accounts[0]?.publicKey}") { ${'delegateAccount { '.repeat(20)} nonce ${'} '.repeat(20)} } }`
    expect(firstError((await gql(chain)).json)).toMatch(/levels deep/)
    const viaFragments = `{ account(publicKey: "${node.accounts[0]?.publicKey}") { ...F0 } }
      ${Array.from({ length: 20 }, (_, i) => `fragment F${i} on Account { delegateAccount { ${i < 19 ? `...F${i + 1}` : 'nonce'} } }`).join('\n')}`
    expect(firstError((await gql(viaFragments)).json)).toMatch(/levels deep/)
  })

  it('limits aliases and fragment bombs without walking them', async () => {
    const aliases = `{ ${Array.from({ length: 100 }, (_, i) => `a${i}: networkID`).join(' ')} }`
    expect(firstError((await gql(aliases)).json)).toMatch(/aliases/)
    const bomb = `{ ...B0 }
      ${Array.from({ length: 40 }, (_, i) => `fragment B${i} on query { ${i < 39 ? `...B${i + 1} ...B${i + 1}` : 'networkID'} }`).join('\n')}`
    const started = Date.now()
    expect(firstError((await gql(bomb)).json)).toMatch(/fields/)
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('reports fragment cycles as validation errors', async () => {
    const cycle = '{ ...A } fragment A on query { ...B } fragment B on query { ...A }'
    expect(firstError((await gql(cycle)).json)).toMatch(/Cannot spread fragment/)
  })

  it('limits the number of tokens and the body size', async () => {
    const many = `{ ${'networkID '.repeat(120_000)} }`
    expect(firstError((await gql(many)).json)).toMatch(/token/i)
    const huge = JSON.stringify({ query: `{ networkID } #${'x'.repeat(5 * 1024 * 1024)}` })
    const { status, json } = await post(node.url, huge)
    expect(status).toBe(413)
    expect(json.errors?.[0]?.extensions?.code).toBe('REQUEST_TOO_LARGE')
  })

  it('validates zkApp command literals against the daemon types', async () => {
    const wrongShape = await gql(
      'mutation { sendZkapp(input: { zkappCommand: { feePayer: 5 } }) { zkapp { hash } } }',
    )
    expect(firstError(wrongShape.json)).toMatch(/ZkappFeePayerInput|feePayer/)
    const wrongScalar = await gql(
      `mutation { sendZkapp(input: { zkappCommand: { memo: "x", accountUpdates: [], feePayer: { authorization: "x", body: { publicKey: "${node.accounts[0]?.publicKey}", fee: 5, nonce: "0" } } } }) { zkapp { hash } } }`,
    )
    expect(firstError(wrongScalar.json)).toMatch(/Fee/)
  })

  it('answers introspection, and plain HTTP misuse with JSON errors', async () => {
    const introspection = await gql(getIntrospectionQuery())
    expect(introspection.json.errors).toBeUndefined()
    expect(await (await fetch(node.url)).json()).toMatchObject({ errors: [{ message: /POST/ }] })
    const missing = await fetch(node.url.replace('/graphql', '/nothing-here'))
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } })
  })

  it('keeps answering after all of the above', async () => {
    const { json } = await gql('{ networkID syncStatus bestChain(maxLength: 1) { stateHash } }')
    expect(json.errors).toBeUndefined()
    expect(json.data).toMatchObject({ networkID: 'mina:devnet', syncStatus: 'SYNCED' })
    expect(await (await fetch(node.url.replace('/graphql', '/health'))).json()).toEqual({
      ok: true,
    })
  })
})

describe('transactions a Mina node refuses', () => {
  const fee = 10_000_000

  beforeAll(() => {
    Mina.setActiveInstance(Mina.Network({ mina: node.url, archive: node.archiveUrl }))
  })

  async function sendPayment(opts: {
    senderKey: PrivateKey
    signers?: PrivateKey[]
    fee?: number
    nonce?: number
    to?: PrivateKey
  }) {
    const sender = opts.senderKey.toPublicKey()
    const tx = await Mina.transaction(
      { sender, fee: opts.fee ?? fee, ...(opts.nonce !== undefined ? { nonce: opts.nonce } : {}) },
      async () => {
        if (opts.to) AccountUpdate.fundNewAccount(sender)
        const to = (
          opts.to ?? PrivateKey.fromBase58(node.accounts[1]?.privateKey ?? '')
        ).toPublicKey()
        AccountUpdate.createSigned(sender).send({ to, amount: 1_000_000_000 })
      },
    )
    const sent = await tx.sign(opts.signers ?? [opts.senderKey]).safeSend()
    return { sent, errors: sent.status === 'rejected' ? sent.errors.join('\n') : '' }
  }

  const key = (i: number) => PrivateKey.fromBase58(node.accounts[i]?.privateKey ?? '')

  it('refuses a fee below the minimum', async () => {
    const { sent, errors } = await sendPayment({ senderKey: key(0), fee: 0 })
    expect(sent.status).toBe('rejected')
    expect(errors).toMatch(/Insufficient_fee/)
  })

  it('refuses a wrong nonce', async () => {
    const { errors } = await sendPayment({ senderKey: key(0), nonce: 7 })
    expect(errors).toMatch(/Invalid_nonce/)
  })

  it('refuses a bad fee payer signature', async () => {
    const { errors } = await sendPayment({ senderKey: key(0), signers: [key(2)] })
    expect(errors).toMatch(/Verification_failed/)
  })

  it('refuses an unknown fee payer', async () => {
    // Built for a known sender, then re-addressed: o1js cannot build for an unknown sender.
    const sender = key(0).toPublicKey()
    const tx = await Mina.transaction({ sender, fee }, async () => {
      AccountUpdate.createSigned(sender).send({ to: key(1).toPublicKey(), amount: 1 })
    })
    const json = JSON.parse(tx.sign([key(0)]).toJSON()) as Types.Json.ZkappCommand
    json.feePayer.body.publicKey = PrivateKey.random().toPublicKey().toBase58()
    const [, error] = await sendZkapp(JSON.stringify(json), node.url)
    expect(error?.statusText).toMatch(/Fee_payer_account_not_found/)
  })

  it('checks signatures on updates of accounts that do not exist yet', async () => {
    // The new account's update is signed by nobody: o1js's LocalBlockchain alone would let it pass.
    const sender = key(0).toPublicKey()
    const fresh = PrivateKey.random()
    const tx = await Mina.transaction({ sender, fee }, async () => {
      AccountUpdate.fundNewAccount(sender)
      AccountUpdate.createSigned(fresh.toPublicKey()).account.zkappUri.set('squatted')
    })
    const sent = await tx.sign([key(0)]).safeSend()
    expect(sent.status).toBe('rejected')
    expect(sent.status === 'rejected' ? sent.errors.join('\n') : '').toMatch(
      new RegExp(`Verification_failed.*${fresh.toPublicKey().toBase58()}`),
    )
  })

  it('applies a valid payment, creating the receiver', async () => {
    const receiver = PrivateKey.random()
    const { sent } = await sendPayment({ senderKey: key(0), to: receiver })
    expect(sent.status).toBe('pending')
    const included = sent.status === 'pending' ? await sent.safeWait() : sent
    expect(included.status).toBe('included')
    const { json } = await gql(
      `{ account(publicKey: "${receiver.toPublicKey().toBase58()}") { balance { total } } }`,
    )
    expect(json.data).toEqual({ account: { balance: { total: '1000000000' } } })
  })
})

describe('Lightnet account manager', () => {
  it('hands out, lists and takes back dev key pairs', async () => {
    const endpoint = node.accountManagerUrl
    const pairs = [] as Awaited<ReturnType<typeof Lightnet.acquireKeyPair>>[]
    for (let i = 0; i < 3; i++)
      pairs.push(await Lightnet.acquireKeyPair({ lightnetAccountManagerEndpoint: endpoint }))
    expect(new Set(pairs.map((p) => p.publicKey.toBase58())).size).toBe(3)
    expect(node.accounts.map((a) => a.publicKey)).toContain(pairs[0]?.publicKey.toBase58())
    await expect(
      Lightnet.acquireKeyPair({ lightnetAccountManagerEndpoint: endpoint }),
    ).rejects.toThrow()
    const listed = await Lightnet.listAcquiredKeyPairs({ lightnetAccountManagerEndpoint: endpoint })
    expect(listed?.length).toBe(3)
    const message = await Lightnet.releaseKeyPair({
      publicKey: pairs[0]?.publicKey.toBase58() ?? '',
      lightnetAccountManagerEndpoint: endpoint,
    })
    expect(message).toBe('Account released')
    const again = await Lightnet.acquireKeyPair({ lightnetAccountManagerEndpoint: endpoint })
    expect(again.publicKey.toBase58()).toBe(pairs[0]?.publicKey.toBase58())
  })
})
