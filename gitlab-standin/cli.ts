import { parseArgs } from 'node:util'
import { startGitlabStandin } from './server.ts'

const usage = `Usage: node --import ./scripts/swc-register.mjs gitlab-standin/cli.ts [options]

A GitLab REST + webhook stand-in for zkrunner's local stack and tests.

Options:
  --port <n>             port to listen on (default 8929; 0 picks a free one)
  --host <addr>          address to bind (default 127.0.0.1)
  --project <id>         project id served (default 1)
  --trigger-token <t>    accepted pipeline trigger token (required)
  --access-token <t>     accepted PRIVATE-TOKEN for the read endpoints
  --webhook-url <url>    where to send Pipeline Hook / Job Hook payloads
  --webhook-secret <s>   sent as X-Gitlab-Token (default: $GITLAB_WEBHOOK_SECRET)
  -h, --help             show this help
`

function main(): void {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8929' },
      host: { type: 'string', default: '127.0.0.1' },
      project: { type: 'string', default: '1' },
      'trigger-token': { type: 'string' },
      'access-token': { type: 'string' },
      'webhook-url': { type: 'string' },
      'webhook-secret': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write(usage)
    return
  }
  const token = values['trigger-token']
  const port = Number(values.port)
  const project = Number(values.project)
  if (!token || !Number.isInteger(port) || !Number.isInteger(project)) {
    process.stderr.write(
      `gitlab-standin: --trigger-token, a numeric --port and --project are required\n`,
    )
    process.exitCode = 2
    return
  }
  startGitlabStandin({
    port,
    host: values.host,
    webhookUrl: values['webhook-url'],
    webhookSecret: values['webhook-secret'] ?? process.env.GITLAB_WEBHOOK_SECRET,
    projects: [
      {
        id: project,
        triggerTokens: [token],
        accessTokens: values['access-token'] ? [values['access-token']] : [],
      },
    ],
  }).then(
    (standin) => {
      process.stdout.write(`gitlab-standin listening on ${standin.url}/api/v4\n`)
      const stop = () => void standin.close().then(() => process.exit(0))
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    },
    (error: unknown) => {
      process.stderr.write(`gitlab-standin: ${String(error)}\n`)
      process.exitCode = 1
    },
  )
}

main()
