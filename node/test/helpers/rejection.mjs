// What a promise rejects with; a failed assertion when it resolves instead.
import assert from 'node:assert/strict';

export async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('expected a rejection');
}
