import { SetMetadata } from '@nestjs/common';
import type { Scope } from '../config/ledger-config.js';

export const REQUIRED_SCOPE = 'ledger:scope';
/** The scope a route needs; `admin` keys pass every scope. */
export const RequireScope = (scope: Scope) => SetMetadata(REQUIRED_SCOPE, scope);
