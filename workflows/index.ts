export { RetrainWorkflow, PretrainWorkflow, progressQuery } from './retrain';
export { DataArrivalWorkflow, PollPrefixWorkflow, newObjectsSignal, dataArrivalStateQuery } from './data-arrival';
