export { expandTime, type TimeArg } from './time.js';
export { D3PM_SCHEDULES, d3pmBetas, type D3PMScheduleKind } from './d3pm-schedules.js';
export { FactorisedDiscreteProcess } from './discrete-base.js';
export { D3PMProcess, D3PM_KINDS, type D3PMConfig } from './d3pm.js';
export { MASK_SCHEDULES, MaskedProcess, maskSchedule, type MaskSchedule, type MaskScheduleKind } from './masked.js';
export {
  GAUSSIAN_SCHEDULES,
  ddpmLinearBetas,
  gaussianSchedule,
  tableSchedule,
  type GaussianSchedule,
  type GaussianScheduleKind,
} from './gaussian-schedules.js';
export { GaussianProcess, type PredictionKind } from './gaussian.js';
