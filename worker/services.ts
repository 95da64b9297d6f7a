import { Hono } from 'hono'
import {
  isPublicKey,
  parseServiceRegistration,
  verifyServiceRegistration,
} from '../protocol/index.ts'
import { readJson } from './body.ts'
import { configOf } from './config.ts'
import type { AppEnv, Env } from './env.ts'
import { ApiError, ApiErrorCode } from './errors.ts'
import { fromProtocol, unwrapOutcome } from './outcome.ts'

/** The Durable Object of a service address. */
export const serviceStub = (env: Env, address: string) =>
  env.SERVICES.get(env.SERVICES.idFromName(address))

/** `POST /v1/services` and `GET /v1/services/:address`. */
export const services = new Hono<AppEnv>()
  .post('/', async (c) => {
    const config = configOf(c.env)
    const parsed = parseServiceRegistration(await readJson(c))
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
    const result = unwrapOutcome(
      await serviceStub(c.env, registration.service).register(registration),
    )
    return c.json({ service: registration.service, registeredAt: result.registeredAt }, 201)
  })
  .get('/:address', async (c) => {
    configOf(c.env)
    const address = c.req.param('address')
    const user = c.req.query('user')
    if (!isPublicKey(address)) {
      throw new ApiError(400, ApiErrorCode.INVALID_BODY, 'not a Mina address', ['address'])
    }
    if (user !== undefined && !isPublicKey(user)) {
      throw new ApiError(400, ApiErrorCode.INVALID_BODY, 'user is not a Mina address', ['user'])
    }
    const status = unwrapOutcome(await serviceStub(c.env, address).status(address, user))
    const availability = status.availability
    const enabled = status.registered && availability?.enabled
    const reason = enabled
      ? undefined
      : !status.registered || availability === null
        ? 'unknown-service'
        : availability.reason
    return c.json({
      service: address,
      enabled,
      ...(reason ? { reason } : {}),
      registered: status.registered,
      descriptor: status.descriptor,
      descriptorCid: status.descriptorCid,
      chain: availability,
    })
  })
