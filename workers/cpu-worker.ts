import { main } from './run-worker';

main('cpu-worker');
