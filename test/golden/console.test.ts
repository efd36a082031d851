// Golden tests: console frames (parse / generate / mirror). Vectors typed by hand: console.vectors.ts.
import { describeGolden } from './run-golden.js';
import { CONSOLE_VECTORS } from './console.vectors.js';

describeGolden(CONSOLE_VECTORS);
