import { afterAll } from 'vitest';
import { disposeAll } from './helpers/dispose.js';

afterAll(disposeAll);
