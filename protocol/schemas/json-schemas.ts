import { z } from 'zod'
import { ServiceDescriptorSchema } from '../service-descriptor.ts'

/** Where the committed JSON Schemas live, by file name, each generated from its zod schema. */
export const JSON_SCHEMAS = {
  'service-descriptor.schema.json': () => ({
    ...z.toJSONSchema(ServiceDescriptorSchema, {
      // A descriptor as an operator writes it: fields with a default may be left out.
      io: 'input',
      // Checks JSON Schema cannot say (base58check keys, unique parameter names, 64-bit range,
      // compilable patterns) stay in zod; the JSON Schema is the looser of the two there.
      unrepresentable: 'any',
    }),
    $id: 'https://github.com/zkrunner/zkrunner/blob/main/protocol/schemas/service-descriptor.schema.json',
    title: 'zkrunner ServiceDescriptor',
    description:
      'One version of one CI job offered as a service. Its CID (of the parsed, defaults-filled canonical JSON) is frozen in the service contract.',
  }),
} as const satisfies Record<string, () => Record<string, unknown>>
