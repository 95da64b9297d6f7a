import { generateHpkeKeyPair } from '../protocol/index.ts'

// Prints a fresh `.dev.vars` for `wrangler dev`: an HPKE key and the dev-only settings that point
// the Worker at the local GitLab stand-in. Production: `wrangler secret put HPKE_PRIVATE_KEY`
// instead, and never the dev-only lines (wrangler.toml ships none of them).

const usage = `Usage: node --import ./scripts/swc-register.mjs worker/dev-key.ts [--help]

Prints .dev.vars lines with a new HPKE_PRIVATE_KEY and the dev-only GITLAB_URL and
DEV_ALLOW_LOOPBACK_PROVIDER to stdout, and the public key and key id to stderr. Example: node --import ./scripts/swc-register.mjs worker/dev-key.ts > .dev.vars
To rotate: move the old HPKE_PRIVATE_KEY to HPKE_PREVIOUS_PRIVATE_KEY for the grace period.
`

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(usage)
} else {
  const pair = await generateHpkeKeyPair()
  process.stdout.write(
    [
      `HPKE_PRIVATE_KEY=${pair.privateKey}`,
      'GITLAB_URL=http://127.0.0.1:8929',
      'DEV_ALLOW_LOOPBACK_PROVIDER=loopback-http',
      '',
    ].join('\n'),
  )
  process.stderr.write(`public key ${pair.publicKey} (kid ${pair.kid})\n`)
}
