import { Hono } from 'hono'
import {
  isPublicKey,
  parseServiceRegistration,
  parseServiceRetirement,
  parseSponsorshipGrant,
  ServiceUnavailable,
  verifyServiceRegistration,
  verifySponsorshipGrant,
  verifyStatusQuery,
} from '../protocol/index.ts'
import { readJson } from './body.ts'
import { configOf } from './config.ts'
import type { AppEnv, Env } from './env.ts'
import { ApiError, ApiErrorCode } from './errors.ts'
import { fromProtocol, unwrapOutcome } from './outcome.ts'
import { largestTriggerVariables, providerOf } from './providers/index.ts'

/** The largest sponsorship grant body: its sponsorship and a full bundle of vouchers. */
const MAX_GRANT_BYTES = 128 * 1024

/** The Durable Object of a service address. */
export const serviceStub = (env: Env, address: string) =>
  env.SERVICES.get(env.SERVICES.idFromName(address))

/**
 * A user's funding (what the Worker records as owed, their latest voucher) is theirs to read:
 * `?user=` must come with that user's signed, short-lived status query (`expires`, `signature`;
 * protocol/status-query.ts). Without `user` the answer holds only what the chain shows anyone.
 */
function checkStatusQuery(query: Record<string, string>, user: string): void {
  if (!isPublicKey(user)) {
    throw new ApiError(400, ApiErrorCode.INVALID_BODY, 'user is not a Mina address', ['user'])
  }
  const { expires, signature } = query
  if (expires === undefined || signature === undefined) {
    throw new ApiError(
      401,
      ApiErrorCode.UNAUTHORIZED,
      "a user's funding is read with their signed status query (expires, signature)",
      ['signature'],
    )
  }
  const checked = verifyStatusQuery(
    { user, expires: /^[0-9]{1,12}$/.test(expires) ? Number(expires) : Number.NaN, signature },
    Math.floor(Date.now() / 1000),
  )
  if (!checked.ok) {
    throw new ApiError(403, ApiErrorCode.BAD_SIGNATURE, checked.error.message, [
      ...checked.error.path,
    ])
  }
}

/** `POST /v1/services` and `GET /v1/services/:address`. */
export const services = new Hono<AppEnv>()
  .post('/', async (c) => {
    const config = configOf(c.env)
    const body = await readJson(c)
    // Registrations once named the service's receipt token, whose balances were the deposits.
    // Deposits now sit in the service's ChannelLedger and are read from its actions; an old client
    // is told so rather than refused with an unknown-field error.
    if (typeof body === 'object' && body !== null && 'receiptTokenId' in body) {
      throw new ApiError(
        409,
        ApiErrorCode.REGISTRATION_OUTDATED,
        "this registration names a receiptTokenId: deposits are read from the service's ledger now, register again with this version's zkrunner-operator",
        ['receiptTokenId'],
      )
    }
    const parsed = parseServiceRegistration(body)
    if (!parsed.ok) throw fromProtocol(parsed.error)
    const registration = parsed.value
    if (!config.keys.some((k) => k.publicKey === registration.descriptor.workerPublicKey)) {
      throw new ApiError(
        409,
        ApiErrorCode.DESCRIPTOR_MISMATCH,
        'the descriptor names a key this Worker does not hold',
        ['descriptor', 'workerPublicKey'],
      )
    }
    const signed = verifyServiceRegistration(registration)
    if (!signed.ok) {
      throw new ApiError(
        403,
        ApiErrorCode.BAD_SIGNATURE,
        'the operator signature does not verify',
        ['signature'],
      )
    }
    // The provider's limits on what a job sends (GitHub: 25 inputs, 65,535 characters) are the
    // rule admission applies to each job; here to the largest job the descriptor allows, so a
    // service is never offered whose jobs its provider could refuse.
    const { descriptor } = registration
    const provider = providerOf(descriptor.provider)
    const tooLarge = provider.variablesProblem(largestTriggerVariables(descriptor))
    if (tooLarge !== null) {
      throw new ApiError(
        422,
        ApiErrorCode.TRIGGER_INPUTS_TOO_LARGE,
        `the descriptor's parameters allow jobs ${provider.title} would refuse: ${tooLarge}`,
        ['descriptor', 'parameters'],
      )
    }
    const result = unwrapOutcome(
      await serviceStub(c.env, registration.service).register(registration),
    )
    return c.json({ service: registration.service, registeredAt: result.registeredAt }, 201)
  })
  .post('/:address/retire', async (c) => {
    configOf(c.env)
    const address = c.req.param('address')
    const parsed = parseServiceRetirement(await readJson(c))
    if (!parsed.ok) throw fromProtocol(parsed.error)
    if (parsed.value.service !== address) {
      throw new ApiError(422, ApiErrorCode.INVALID_BODY, 'the retirement names another service', [
        'service',
      ])
    }
    // The object checks the signature against the runner key it holds for the address.
    const result = unwrapOutcome(await serviceStub(c.env, address).retire(parsed.value))
    return c.json({ service: address, retired: true, retiredAt: result.retiredAt })
  })
  .post('/:address/sponsorships', async (c) => {
    configOf(c.env)
    const address = c.req.param('address')
    // A full bundle (MAX_POOL_VOUCHERS vouchers of ~330 bytes) is larger than other bodies.
    const parsed = parseSponsorshipGrant(await readJson(c, MAX_GRANT_BYTES))
    if (!parsed.ok) throw fromProtocol(parsed.error)
    if (parsed.value.sponsorship.service !== address) {
      throw new ApiError(422, ApiErrorCode.INVALID_BODY, 'the sponsorship names another service', [
        'sponsorship',
        'service',
      ])
    }
    // The sponsorship's one signature first: a forged grant costs one check, not a bundle's.
    const signed = verifySponsorshipGrant(parsed.value)
    if (!signed.ok) {
      throw new ApiError(
        403,
        ApiErrorCode.BAD_SIGNATURE,
        'a signature of the grant does not verify',
        [...signed.error.path],
      )
    }
    const result = unwrapOutcome(await serviceStub(c.env, address).sponsor(parsed.value))
    return c.json({ service: address, ...result }, 201)
  })
  .get('/:address/summary', async (c) => {
    configOf(c.env)
    const address = c.req.param('address')
    if (!isPublicKey(address)) {
      throw new ApiError(400, ApiErrorCode.INVALID_BODY, 'not a Mina address', ['address'])
    }
    return c.json({ service: address, ...(await serviceStub(c.env, address).summary()) })
  })
  .get('/:address', async (c) => {
    configOf(c.env)
    const address = c.req.param('address')
    const user = c.req.query('user')
    if (!isPublicKey(address)) {
      throw new ApiError(400, ApiErrorCode.INVALID_BODY, 'not a Mina address', ['address'])
    }
    if (user !== undefined) checkStatusQuery(c.req.query(), user)
    const status = unwrapOutcome(await serviceStub(c.env, address).status(address, user))
    const availability = status.availability
    const retired = status.retiredAt !== null
    // The protocol's rule decided `availability` (retirement included); unknown is the Worker's.
    const enabled = status.registered && availability?.enabled === true
    const reason = enabled
      ? undefined
      : !status.registered || availability === null
        ? ServiceUnavailable.UNKNOWN_SERVICE
        : availability.reason
    return c.json({
      service: address,
      enabled,
      ...(reason ? { reason } : {}),
      registered: status.registered,
      retired,
      ...(retired ? { retiredAt: status.retiredAt } : {}),
      ...(status.providerQuota ? { providerQuota: status.providerQuota } : {}),
      descriptor: status.descriptor,
      descriptorCid: status.descriptorCid,
      chain: availability,
      sponsorships: status.sponsorships,
    })
  })
