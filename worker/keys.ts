import { Hono } from 'hono'
import { HPKE_SUITE } from '../protocol/index.ts'
import { configOf } from './config.ts'
import type { AppEnv } from './env.ts'

/** `GET /v1/keys`: the HPKE public keys requests are sealed to (the current one first). */
export const keys = new Hono<AppEnv>().get('/', (c) => {
  const config = configOf(c.env)
  // Only the public halves leave, field by field: never spread a key pair into a response.
  const all = config.keys.map((k) => ({
    kid: k.kid,
    publicKey: k.publicKey,
    current: k.kid === config.currentKey.kid,
  }))
  c.header('cache-control', 'public, max-age=300')
  return c.json({
    suite: HPKE_SUITE,
    kid: config.currentKey.kid,
    publicKey: config.currentKey.publicKey,
    keys: all,
  })
})
