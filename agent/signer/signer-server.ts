import { existsSync } from 'node:fs'
import { chmod, chown, mkdir, rm, stat } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { dirname } from 'node:path'
import { Writable } from 'node:stream'
import type { OuterJob } from '../call/call-driver.ts'
import { checkedOutCommit } from '../checkout-commit.ts'
import type { AgentConfig } from '../config.ts'
import { AgentError, AgentErrorCode } from '../errors.ts'
import { jobEnvironment } from '../isolation/job-env.ts'
import { type Isolation, userEnv } from '../isolation/job-user.ts'
import { jobIdentity } from '../job-identity.ts'
import { runCommand } from '../pipeline/run-command.ts'
import { Spool } from '../spool/spool.ts'
import { CALL_TOKEN_VARIABLE, CallGrants } from './call-grants.ts'
import { checkJobBinding, signerBinding } from './job-binding.ts'
import { type MakeCall, signerCall } from './signer-call.ts'
import {
  MAX_REQUEST_BYTES,
  MAX_SIGNER_CONNECTIONS,
  MAX_SIGNER_RUNS,
  SIGNER_REQUEST_TIMEOUT_MS,
  type SignerFrame,
  SignerRequestSchema,
} from './signer-protocol.ts'

/** Output the client has not read yet beyond this is not mirrored (the bundle still has it all). */
const MAX_UNREAD_BYTES = 8 * 1024 * 1024

/**
 * While a request is being checked (Worker and provider lookups, each bounded), the connection is
 * cut if it stays idle this long: a caller cannot hold a slot of MAX_SIGNER_CONNECTIONS by asking.
 */
const CHECK_IDLE_TIMEOUT_MS = 60_000

/** After the last frame, how long a caller has to read it before the connection is destroyed. */
const CLOSE_GRACE_MS = 5_000

/**
 * Ends the connection after its last frame and then closes it fully: `end()` alone leaves it
 * half-open (counted against MAX_SIGNER_CONNECTIONS) for as long as the caller keeps its side open.
 */
function finish(socket: Socket): void {
  const grace = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS)
  grace.unref()
  socket.end(() => {
    clearTimeout(grace)
    socket.destroy()
  })
}

/** A running signer: where it listens, and how to stop it. */
export interface SignerServer {
  socketPath: string
  server: Server
  /**
   * Lets the job `outer` make driver calls here until `revoke`: the token goes into that job's
   * environment (`ZKRUNNER_CALL_TOKEN`). The signer does this itself for the jobs it runs; the
   * custom executor, which runs its jobs itself, for its own.
   */
  grantCalls(outer: OuterJob): { token: string; revoke(): void }
  close(): Promise<void>
}

function send(socket: Socket, frame: SignerFrame): void {
  if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(frame)}\n`)
}

/** A stream of the job's output (or the agent's lines about it) framed onto the connection. */
function framed(socket: Socket, t: 'out' | 'err'): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      // A client that stops reading does not make the signer buffer the job's output without end.
      if (socket.writableLength < MAX_UNREAD_BYTES)
        send(socket, { t, d: Buffer.from(chunk).toString('base64') })
      done()
    },
  })
}

/**
 * The signer of `zkrunner-agent run` for a job whose own user calls the agent (a GitHub `run:`
 * shell, a GitLab shell-executor script): that user cannot be trusted with the runner key, so a
 * process of another user (root) holds it. The caller connects to a unix socket only the job user
 * (owner root, group the job user's, 0660) can open and asks for one thing: run this command. The
 * signer reads the job's identity from the caller's variables and the checkout (as the job user),
 * starts the command itself as `jobUser` under perf, captures its output, waits for its exit,
 * reads its artifacts with the job user's rights, then signs, pins and reports: everything signed
 * is what the signer observed. The caller receives the output as it comes and the exit code.
 */
export async function startSigner(
  config: AgentConfig,
  isolation: Isolation,
  socketPath: string,
  log: (line: string) => void = () => {},
  /** How a driver call is made (callFor with this config; tests answer with doubles). */
  makeCall?: MakeCall,
  /**
   * Only driver calls, for the jobs granted with `grantCalls` (the custom executor's per-job
   * socket): no job is run or bound to a provider here, so no provider settings are needed.
   */
  callsOnly = false,
): Promise<SignerServer> {
  const jobUser = isolation.user
  if (!jobUser)
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      'the signer runs jobs as jobUser (ZKRUNNER_JOB_USER) and needs root: without it the job would run as the key owner',
    )
  // Validated once: a signer that cannot ask the provider where a job runs does not start.
  const binding = callsOnly ? null : signerBinding(config)
  const inFlight = new Set<string>()
  // Driver calls (`zkrunner-agent call`) of the jobs running now, each by its own token.
  const grants = new CallGrants()
  const call: MakeCall =
    makeCall ??
    (async (outer, opts) => {
      const { callFor } = await import('../call/call-command.ts')
      return callFor(config, outer, opts, (line) => log(`job ${outer.jobId}: call: ${line}`))
    })

  async function serve(socket: Socket, line: string, running: () => void): Promise<void> {
    let request: unknown
    try {
      request = JSON.parse(line)
    } catch {
      throw new AgentError(AgentErrorCode.SIGNER_REFUSED, 'a request is one JSON line')
    }
    const parsed = SignerRequestSchema.safeParse(request)
    if (!parsed.success)
      throw new AgentError(
        AgentErrorCode.SIGNER_REFUSED,
        `the signer only runs jobs ({ v: 1, op: "run", command, args, cwd, vars, options }), makes the driver calls of the jobs it runs (op "call", with the job's token) and says where one stands (op "status"); it signs nothing it did not observe: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
      )
    if (callsOnly && parsed.data.op !== 'call')
      throw new AgentError(
        AgentErrorCode.SIGNER_REFUSED,
        'this socket makes driver calls only (op "call"): the job runs under the agent already',
      )
    if (parsed.data.op === 'call') {
      const outcome = await signerCall(parsed.data, grants, call, running)
      for (const f of outcome.files)
        send(socket, { t: 'file', path: f.path, d: f.bytes.toString('base64') })
      const { jobId, cumulativeAmount, result } = outcome.call
      send(socket, {
        t: 'call',
        jobId,
        cumulativeAmount,
        ...(result
          ? {
              result: {
                bundleCid: result.bundleCid,
                manifestDigest: result.manifestDigest,
                exitCode: result.exitCode,
              },
            }
          : {}),
      })
      return
    }
    if (parsed.data.op === 'status') {
      const spool = new Spool(config.dataDir)
      const { jobId } = parsed.data
      // A malformed id is refused by the spool before it becomes a path.
      const state = await spool.state(jobId).catch((e: unknown) => {
        if (!/^[0-9a-f]{32}$/.test(jobId)) throw e
        return null
      })
      send(socket, {
        t: 'status',
        phase: state?.phase ?? null,
        ...(state?.bundleCid ? { bundleCid: state.bundleCid } : {}),
      })
      return
    }
    const { command, args, cwd, vars, options } = parsed.data
    const { readCheckout, mismatchOnly, ...flags } = options
    const identity = jobIdentity(vars, cwd, {
      ...flags,
      newJobId: true,
      // The signer's own openings: a private commitment is checked with what root configured.
      privateSources: config.privateSources,
      // Read from the checkout as the job user, as `run` does for itself.
      checkout: readCheckout === false ? null : checkedOutCommit(cwd, jobUser),
    })
    const { jobId } = identity.meta
    // A `started` hook's check on a match: nothing runs and nothing is signed, so nothing to bind.
    if (mismatchOnly && !identity.mismatch) {
      log(`job ${jobId}: checked, nothing run`)
      send(socket, { t: 'exit', code: 0 })
      return
    }
    // Without the checkout the commit that runs is only the CI's word, which the caller writes:
    // that is only for the `started` hook's not-run result of a mismatch (nothing is checked out
    // yet, and nothing will run). A job that would run is always read from its checkout.
    if (readCheckout === false && !identity.mismatch)
      throw new AgentError(
        AgentErrorCode.SIGNER_REFUSED,
        'readCheckout: false is only for a source mismatch found before the checkout (the GitHub started hook); a job that runs is read from its checkout',
      )
    // What the signer knows itself comes first: asking again for a job that runs or ran here
    // makes no Worker or provider read (the read token's rate limit is the runner's, not a job's).
    if (inFlight.has(jobId))
      throw new AgentError(AgentErrorCode.INVALID_CONFIG, `job ${jobId} is already running`)
    if (existsSync(new Spool(config.dataDir).jobDir(jobId)))
      throw new AgentError(
        AgentErrorCode.SIGNER_REFUSED,
        `job ${jobId} is already spooled here (a job id is signed once); nothing was run or signed`,
      )
    if (inFlight.size >= MAX_SIGNER_RUNS)
      throw new AgentError(
        AgentErrorCode.SIGNER_REFUSED,
        `busy: ${MAX_SIGNER_RUNS} jobs are running; try again when one ends`,
      )
    // The caller names the job; the Worker and the provider say whether it is this runner's now.
    await checkJobBinding(binding!, identity.meta)
    // Checked again after the wait: another ask for the same job may have started meanwhile.
    if (inFlight.has(jobId))
      throw new AgentError(AgentErrorCode.INVALID_CONFIG, `job ${jobId} is already running`)
    if (inFlight.size >= MAX_SIGNER_RUNS)
      throw new AgentError(
        AgentErrorCode.SIGNER_REFUSED,
        `busy: ${MAX_SIGNER_RUNS} jobs are running; try again when one ends`,
      )
    inFlight.add(jobId)
    // The job's driver calls come back with this token, and only while it runs: the outer job
    // they spend for is this record, never the caller's word.
    const token = grants.grant({
      jobId,
      service: identity.meta.service,
      ...(identity.meta.callPath?.length ? { callPath: identity.meta.callPath } : {}),
    })
    try {
      // From here the job's own output keeps the connection busy or not: no idle cut.
      running()
      log(`job ${jobId}: ${command} in ${cwd}`)
      const code = await runCommand(
        config,
        {
          meta: {
            ...identity.meta,
            command,
            args,
            mode: 'signer',
            createdAt: new Date().toISOString(),
          },
          env: jobEnvironment({
            host: vars,
            ci: vars,
            parameters: options.passEnv,
            overrides: {
              ...userEnv(isolation),
              [CALL_TOKEN_VARIABLE]: token,
              ZKRUNNER_SIGNER_SOCKET: socketPath,
            },
          }),
          isolation,
          mismatch: identity.mismatch,
          ranFrom: identity.ranFrom,
          jobDirs: [vars.CI_BUILDS_DIR, vars.CI_PROJECT_DIR, vars.GITHUB_WORKSPACE],
        },
        { stdout: framed(socket, 'out'), stderr: framed(socket, 'err') },
      )
      send(socket, { t: 'exit', code })
    } finally {
      grants.revoke(token)
      inFlight.delete(jobId)
    }
  }

  const server = createServer((socket) => {
    let buffered = ''
    let started = false
    socket.setEncoding('utf8')
    socket.on('error', () => {})
    // Until its request line is in: a caller that holds a connection open without one is cut.
    socket.setTimeout(SIGNER_REQUEST_TIMEOUT_MS, () => {
      if (!started) socket.destroy()
    })
    socket.on('data', (chunk: string) => {
      if (started) return
      buffered += chunk
      const nl = buffered.indexOf('\n')
      if (nl < 0 && buffered.length <= MAX_REQUEST_BYTES) return
      started = true
      // While the request is checked the connection stays on a clock; only a job that runs
      // (its output may pause for long) is exempt.
      socket.setTimeout(CHECK_IDLE_TIMEOUT_MS, () => socket.destroy())
      const line = nl < 0 ? null : buffered.slice(0, nl)
      buffered = ''
      const work =
        line === null
          ? Promise.reject(new AgentError(AgentErrorCode.SIGNER_REFUSED, 'request too long'))
          : serve(socket, line, () => socket.setTimeout(0))
      work.then(
        () => finish(socket),
        (e: unknown) => {
          const code = e instanceof AgentError ? e.code : 'INTERNAL'
          // The signer's own failures are not detailed to the caller beyond their code.
          const message = e instanceof AgentError ? e.message : 'internal error'
          if (!(e instanceof AgentError)) log(`request failed: ${(e as Error).message}`)
          send(socket, { t: 'error', code, message })
          finish(socket)
        },
      )
    })
  })
  server.maxConnections = MAX_SIGNER_CONNECTIONS
  // The socket's directory is the signer's own: where another user may write, a job could remove
  // the socket and listen in its place, or point the path elsewhere before the signer removes it.
  const dir = dirname(socketPath)
  await mkdir(dir, { recursive: true, mode: 0o755 })
  const held = await stat(dir)
  const self = process.getuid?.() ?? 0
  if (held.uid !== self || (held.mode & 0o022) !== 0)
    throw new AgentError(
      AgentErrorCode.INVALID_CONFIG,
      `${dir} must be the signer's own directory, writable by no one else (the socket ${socketPath} lives there)`,
    )
  // And so must the way to it: whoever may write a directory above it can move the socket's
  // directory aside and put one of their own in its place. A sticky directory (/tmp) lets nobody
  // move what is not theirs.
  for (let d = dirname(dir); ; d = dirname(d)) {
    const up = await stat(d)
    if ((up.uid !== self && up.uid !== 0) || ((up.mode & 0o022) !== 0 && (up.mode & 0o1000) === 0))
      throw new AgentError(
        AgentErrorCode.INVALID_CONFIG,
        `${d} (above the socket ${socketPath}) may be written by others: a job could move the socket's directory and put its own in its place; keep the socket under directories of root's`,
      )
    if (d === dirname(d)) break
  }
  await rm(socketPath, { force: true })
  // Created 0600 (no moment when anyone else can connect), then opened to the job user's group.
  const umask = process.umask(0o177)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(socketPath, () => resolve())
    })
  } finally {
    process.umask(umask)
  }
  await chown(socketPath, process.getuid?.() ?? 0, jobUser.gid)
  await chmod(socketPath, 0o660)
  return {
    socketPath,
    server,
    grantCalls(outer) {
      const token = grants.grant(outer)
      return { token, revoke: () => grants.revoke(token) }
    },
    close: () =>
      new Promise<void>((resolve) => server.close(() => resolve())).then(() =>
        rm(socketPath, { force: true }),
      ),
  }
}
