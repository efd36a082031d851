// Golden tests: vm-creation frames (parse / generate / mirror). Vectors typed by hand: vm-creation.vectors.ts.
import { describeGolden } from './run-golden.js';
import { VM_CREATION_VECTORS } from './vm-creation.vectors.js';

describeGolden(VM_CREATION_VECTORS);
