import express from 'express';

/** The Express majors the middleware supports, each a real `express` package. */
export const EXPRESS_VERSIONS: Array<{ name: string; create: () => express.Express }> = [
  { name: 'Express 5', create: () => express() },
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  { name: 'Express 4', create: () => (require('express4') as typeof express)() },
];

/** A 1x1 transparent PNG. */
export const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' + '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
  'hex',
);
