import { Hono } from 'hono'
import type { DevAccount } from './dev-accounts.ts'

// Lightnet's account manager, over the dev accounts: code that calls o1js's
// `Lightnet.acquireKeyPair` / `releaseKeyPair` / `listAcquiredKeyPairs` works unchanged.
// Lightnet can hand out accounts with a zkApp already set up (`isRegularAccount=false`);
// this node has only regular accounts and hands those out for both kinds.

interface KeyPairJson {
  pk: string
  sk: string
}

/** A Hono app with Lightnet's account-manager routes over a pool of key pairs. */
export function accountManagerApp(accounts: DevAccount[]): Hono {
  const acquired = new Set<string>()
  const app = new Hono()
  const toJson = (a: DevAccount): KeyPairJson => ({ pk: a.publicKey, sk: a.privateKey })

  app.get('/acquire-account', (c) => {
    const free = accounts.find((a) => !acquired.has(a.publicKey))
    if (!free)
      return c.json(
        {
          error: {
            code: 'NO_ACCOUNT_AVAILABLE',
            message: `all ${accounts.length} dev accounts are acquired; release one or start with more accounts`,
          },
        },
        404,
      )
    acquired.add(free.publicKey)
    return c.json(toJson(free))
  })

  app.put('/release-account', async (c) => {
    let pk: unknown
    try {
      pk = ((await c.req.json()) as { pk?: unknown }).pk
    } catch {
      pk = undefined
    }
    if (typeof pk !== 'string')
      return c.json(
        { error: { code: 'BAD_REQUEST', message: 'body must be { "pk": <public key> }' } },
        400,
      )
    if (!acquired.delete(pk))
      return c.json(
        { error: { code: 'NOT_FOUND', message: `account ${pk.slice(0, 60)} is not acquired` } },
        404,
      )
    return c.json({ message: 'Account released' })
  })

  app.get('/list-acquired-accounts', (c) =>
    c.json(accounts.filter((a) => acquired.has(a.publicKey)).map(toJson)),
  )
  return app
}
