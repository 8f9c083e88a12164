import { main } from './run-worker';

// Set PDM_TF_BACKEND=gpu on GPU nodes; on CPU-only nodes this worker trains on tfjs-node.
main('gpu-worker');
