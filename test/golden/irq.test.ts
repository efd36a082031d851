// Golden tests: irq frames (parse / generate / mirror). Vectors typed by hand: irq.vectors.ts.
import { describeGolden } from './run-golden.js';
import { IRQ_VECTORS } from './irq.vectors.js';

describeGolden(IRQ_VECTORS);
