// FAB-L2: Croce & Hein, "Minimally distorted Adversarial Examples with a Fast Adaptive Boundary Attack", ICML 2020.
// https://arxiv.org/abs/1907.02044 — the L2 version of src/attacks/fab.ts: nearest boundary by |value| / ||grad||_2,
// L2 projections onto the linearised boundary within [0, 1]^d, and eps an L2 radius over the whole image.
import type { FabL2Config } from '../config/schema.js';
import { fabAttack } from './fab.js';
import { registerAttack } from './registry.js';

export const fabL2 = fabAttack<FabL2Config>(
  'fab-l2',
  'l2',
  'Fast Adaptive Boundary attack in L2: minimal adversarial images by projections onto the linearised boundary (Croce & Hein, ICML 2020)',
);

registerAttack(fabL2);
