import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'ledger:public';
/** Marks a controller or route that answers without an API key (health only). */
export const Public = () => SetMetadata(IS_PUBLIC, true);
