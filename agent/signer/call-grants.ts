import { createHash, randomBytes } from 'node:crypto'
import type { OuterJob } from '../call/call-driver.ts'

/** The variable a job the signer runs finds its call token in. */
export const CALL_TOKEN_VARIABLE = 'ZKRUNNER_CALL_TOKEN'

/**
 * Which job may make driver calls through the signer, and as whom: each job the signer runs gets
 * a fresh random token in its environment while it runs, and only that token names it. The outer
 * job a call spends for is the signer's own record of the job (its spooled identity), never what
 * the caller says, so job code cannot draw another job's budget, a fresh one under a made-up job
 * id, or list inner jobs in another job's manifest; and once the job has ended its token is void.
 */
export class CallGrants {
  // By the token's digest: the tokens themselves are kept nowhere but in the jobs' environments.
  readonly #grants = new Map<string, { outer: OuterJob; ended: AbortController }>()

  /** A token for `outer`, valid until `revoke`. */
  grant(outer: OuterJob): string {
    const token = randomBytes(32).toString('hex')
    this.#grants.set(digest(token), { outer, ended: new AbortController() })
    return token
  }

  /**
   * Ends the token's validity (the job has ended), and aborts its calls still in flight: nothing
   * of a job goes on after it, a call it started included.
   */
  revoke(token: string): void {
    const grant = this.#grants.get(digest(token))
    this.#grants.delete(digest(token))
    grant?.ended.abort(new Error('the calling job has ended'))
  }

  /** The running job `token` was granted to, or null. */
  outerFor(token: string): OuterJob | null {
    return this.#grants.get(digest(token))?.outer ?? null
  }

  /** Aborted when the job `token` was granted to ends (null for a token no running job holds). */
  endOf(token: string): AbortSignal | null {
    return this.#grants.get(digest(token))?.ended.signal ?? null
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}
