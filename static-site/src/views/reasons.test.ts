import { expect, test } from 'vitest'
import { ServiceUnavailable } from '../../../protocol/index.ts'
import { REASONS, reasonText } from './services.ts'

test('the page has a sentence for every reason code of the protocol’s availability rule', () => {
  for (const code of Object.values(ServiceUnavailable)) {
    expect(REASONS[code], code).toBeTruthy()
    expect(reasonText(code)).not.toBe(code)
  }
})
