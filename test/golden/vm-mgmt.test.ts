// Golden tests: vm-mgmt frames (parse / generate / mirror). Vectors typed by hand: vm-mgmt.vectors.ts.
import { describeGolden } from './run-golden.js';
import { VM_MGMT_VECTORS } from './vm-mgmt.vectors.js';

describeGolden(VM_MGMT_VECTORS);
