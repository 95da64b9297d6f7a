import { randomBytes } from 'node:crypto'
import { generateHpkeKeyPair } from '../protocol/index.ts'

// Prints a fresh `.dev.vars` for `wrangler dev`: an HPKE key pair and a webhook secret.
// Production: pipe each value into `wrangler secret put NAME` instead; never commit them.

const usage = `Usage: node --import ./scripts/swc-register.mjs worker/dev-key.ts [--help]

Prints .dev.vars lines with a new HPKE_PRIVATE_KEY and GITLAB_WEBHOOK_SECRET to stdout, and the
public key and key id to stderr. Example: node --import ./scripts/swc-register.mjs worker/dev-key.ts > .dev.vars
To rotate: move the old HPKE_PRIVATE_KEY to HPKE_PREVIOUS_PRIVATE_KEY for the grace period.
`

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(usage)
} else {
  const pair = await generateHpkeKeyPair()
  process.stdout.write(
    `HPKE_PRIVATE_KEY=${pair.privateKey}\nGITLAB_WEBHOOK_SECRET=${randomBytes(24).toString('base64url')}\n`,
  )
  process.stderr.write(`public key ${pair.publicKey} (kid ${pair.kid})\n`)
}
