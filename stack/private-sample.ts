// The local stack's private service: the sample job again, offered with its source committed and
// not published (README: "Private services"). It runs from a project of its own on the GitLab
// stand-in, at a commit of its own, so that a scan of everything public can tell its coordinates
// apart from the public sample's.
import { createHash } from 'node:crypto'
import {
  type PrivateCoordinates,
  type PrivateServiceDescriptor,
  type PublicServiceDescriptor,
  privateCommitment,
} from '../protocol/index.ts'

/** The private sample's project on the GitLab stand-in (the Worker triggers it by path). */
export const PRIVATE_PROJECT = { id: 2, path: 'zkrunner/private-primes' } as const

/**
 * The commit the stand-in reports for the private project: 40 hex of its own, derived from the
 * public sample's, so it appears in no public document of the public services either.
 */
export const privateSampleCommit = (publicCommitment: string): string =>
  createHash('sha1').update(`zkrunner private sample\n${publicCommitment}`).digest('hex')

/**
 * The private version of `sample`: the descriptor without coordinates, committing to the opening
 * (salt, provider URL, project, commit), and the coordinates the operator seals to the Worker.
 */
export function privateSample(
  sample: PublicServiceDescriptor,
  opening: { salt: string; commit: string },
): { descriptor: PrivateServiceDescriptor; coordinates: PrivateCoordinates } {
  const coordinates: PrivateCoordinates = {
    providerUrl: sample.providerUrl,
    project: PRIVATE_PROJECT.path,
    ref: sample.ref,
    job: sample.job,
    salt: opening.salt,
    commit: opening.commit,
  }
  const {
    providerUrl: _u,
    project: _p,
    ref: _r,
    job: _j,
    workflow: _w,
    visibility: _v,
    ...rest
  } = sample
  return {
    descriptor: {
      ...rest,
      visibility: 'private',
      name: 'Count primes (private sample)',
      description:
        'The sample job as a private service: its repository and commit are committed on chain, not published, until its operator reveals them.',
      sourceCommitment: privateCommitment(coordinates),
      // The page shows progress toward it; the e2e reveals the sample long before.
      revealGoal: String(BigInt(sample.pricePerJob) * 100n),
    },
    coordinates,
  }
}
