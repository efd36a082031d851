// Golden tests: notifications frames (parse / generate / mirror). Vectors typed by hand: notifications.vectors.ts.
import { describeGolden } from './run-golden.js';
import { NOTIFICATIONS_VECTORS } from './notifications.vectors.js';

describeGolden(NOTIFICATIONS_VECTORS);
