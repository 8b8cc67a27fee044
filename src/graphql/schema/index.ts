import './catalog.js';
import './completion.js';
import './usage.js';
import './semantic-cache.js';
import { builder } from '../builder.js';

export const schema = builder.toSchema({ sortSchema: false });
