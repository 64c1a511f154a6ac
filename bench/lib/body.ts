/**
 * The JSON body every candidate answers with: about 1 KB once serialised, deterministic, and
 * shaped like an API object (nested fields, an array), so `JSON.stringify` does real work.
 */
export function benchBody(): Record<string, unknown> {
  return {
    id: 'char_123',
    name: 'Ada Lovelace',
    kind: 'character',
    createdAt: '2026-01-01T00:00:00.000Z',
    attributes: { strength: 12, wisdom: 18, charisma: 15, dexterity: 10, constitution: 11, intelligence: 20 },
    tags: ['analyst', 'mathematician', 'writer', 'engine', 'notes', 'bernoulli'],
    biography:
      'Wrote what is often called the first published program, for the Analytical Engine, and saw that such a machine could act on anything that can be expressed as symbols, not numbers alone.',
    source: 'Sketch of the Analytical Engine, with notes by the translator (1843)',
    inventory: Array.from({ length: 8 }, (_, i) => ({ slot: i, item: `item_${i}`, weight: i * 1.5, equipped: i % 2 === 0 })),
  };
}
