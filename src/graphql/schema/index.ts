import './catalog.js';
import './clients.js';
import './completion.js';
import './events.js';
import './usage.js';
import './access.js';
import './semantic-cache.js';
import './request-log.js';
import { builder } from '../builder.js';

export const schema = builder.toSchema({ sortSchema: false });
