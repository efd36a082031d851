// Golden tests: mem frames (parse / generate / mirror). Vectors typed by hand: mem.vectors.ts.
import { describeGolden } from './run-golden.js';
import { MEM_VECTORS } from './mem.vectors.js';

describeGolden(MEM_VECTORS);
