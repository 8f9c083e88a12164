export { RetrainWorkflow, PretrainWorkflow, progressQuery } from './retrain';
